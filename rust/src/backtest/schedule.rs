//! Which (window, forest) jobs a window batch runs, and in what order. Every window's
//! programs run from a cold start, so a window cannot be cut into row ranges; what can be
//! cut is its programs, into smaller forests that share fewer subtrees (more expression
//! work in all). With few windows of unequal length on few threads the last job leaves a
//! thread idle (3 train + 3 test windows on 2 threads: the slower thread carries 5 of 9
//! units), so a window's programs are cut finer only where that shortens the estimated
//! finish time. Only timing depends on the plan: every program runs alone on its own state.

/// A program's backtest costs about as much as this many forest nodes over the same rows
/// (perf of the Forge generation benchmark: backtest + metrics vs expression evaluation).
const BACKTEST_NODES: f64 = 2.5;

/// One way of cutting the programs into forests: each forest's (distinct nodes, programs).
pub(super) type Cut = Vec<(usize, usize)>;

/// The jobs (window, cut, forest of that cut), longest estimated first. `cuts[0]` is the
/// coarse cut every window starts with; `cuts[1]`, if given, a finer one a window may take.
pub(super) fn plan(lens: &[usize], cuts: &[Cut], threads: usize) -> Vec<(usize, usize, usize)> {
    let mut choice = vec![0; lens.len()];
    if cuts.get(1).is_some_and(|fine| fine.len() > cuts[0].len()) {
        // Shortest windows first: cutting them fills the idle end of the schedule.
        let mut order: Vec<usize> = (0..lens.len()).collect();
        order.sort_by_key(|&w| (lens[w], w));
        let mut best = makespan(&jobs(lens, cuts, &choice), threads);
        for w in order {
            choice[w] = 1;
            let t = makespan(&jobs(lens, cuts, &choice), threads);
            if t < best {
                best = t;
            } else {
                choice[w] = 0;
            }
        }
    }
    let mut out = jobs(lens, cuts, &choice);
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    out.into_iter().map(|(_, job)| job).collect()
}

/// Every (estimated cost, (window, cut, forest)) job of a choice of cut per window.
fn jobs(lens: &[usize], cuts: &[Cut], choice: &[usize]) -> Vec<(f64, (usize, usize, usize))> {
    let mut out = Vec::new();
    for (w, (&len, &c)) in lens.iter().zip(choice).enumerate() {
        for (f, &(nodes, programs)) in cuts[c].iter().enumerate() {
            let cost = len as f64 * (nodes as f64 + BACKTEST_NODES * programs as f64);
            out.push((cost, (w, c, f)));
        }
    }
    out
}

/// Finish time of `jobs` taken longest first by whichever of `threads` is free first (what
/// the shared job counter does).
fn makespan(jobs: &[(f64, (usize, usize, usize))], threads: usize) -> f64 {
    let mut costs: Vec<f64> = jobs.iter().map(|j| j.0).collect();
    costs.sort_by(|a, b| b.total_cmp(a));
    let mut load = vec![0.0_f64; threads.max(1)];
    for c in costs {
        let free = load
            .iter_mut()
            .min_by(|a, b| a.total_cmp(b))
            .expect("at least one thread");
        *free += c;
    }
    load.into_iter().fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 folds × (train 2 units, test 1 unit), as Forge cuts its history.
    const FOLDS: [usize; 6] = [2_000, 1_000, 2_000, 1_000, 2_000, 1_000];

    #[test]
    fn one_thread_never_cuts_finer() {
        let cuts = vec![vec![(100, 50)], vec![(70, 25), (70, 25)]];
        let jobs = plan(&FOLDS, &cuts, 1);
        assert!(jobs.iter().all(|j| j.1 == 0));
        assert_eq!(jobs.len(), 6);
    }

    #[test]
    fn two_threads_cut_a_short_window_to_even_out_the_end() {
        let cuts = vec![vec![(100, 50)], vec![(60, 25), (60, 25)]];
        let planned = plan(&FOLDS, &cuts, 2);
        let fine: Vec<_> = planned.iter().filter(|j| j.1 == 1).collect();
        assert!(!fine.is_empty() && fine.iter().all(|j| FOLDS[j.0] == 1_000));
        // Each window runs once whole or once per fine forest.
        for w in 0..FOLDS.len() {
            let mine: Vec<_> = planned.iter().filter(|j| j.0 == w).collect();
            assert_eq!(mine.len(), cuts[mine[0].1].len(), "{planned:?}");
        }
        let choice: Vec<usize> = (0..6)
            .map(|w| planned.iter().find(|j| j.0 == w).unwrap().1)
            .collect();
        let before = makespan(&jobs(&FOLDS, &cuts, &[0; 6]), 2);
        assert!(makespan(&jobs(&FOLDS, &cuts, &choice), 2) < before);
    }

    #[test]
    fn jobs_come_longest_first() {
        let cuts = vec![vec![(100, 50)]];
        let jobs = plan(&[10, 300, 20], &cuts, 4);
        assert_eq!(jobs, vec![(1, 0, 0), (2, 0, 0), (0, 0, 0)]);
    }

    #[test]
    fn a_finer_cut_that_costs_too_much_is_not_taken() {
        // Halves that share nothing: the sum of their nodes is far above the whole.
        let cuts = vec![vec![(100, 50)], vec![(400, 25), (400, 25)]];
        assert!(plan(&FOLDS, &cuts, 2).iter().all(|j| j.1 == 0));
    }
}
