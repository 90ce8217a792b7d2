//! The thread pool of the batch entry points: scoped threads pull job indices from a shared
//! counter, so a long job never holds up the rest, and results come back in job order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::error::{CoreError, CoreResult};

/// `job(k)` for every k in `0..jobs` on up to `threads` threads; the results in order of k.
pub(crate) fn run_jobs<R, F>(jobs: usize, threads: usize, job: F) -> CoreResult<Vec<R>>
where
    R: Send,
    F: Fn(usize) -> R + Sync,
{
    let next = AtomicUsize::new(0);
    let parts = thread::scope(|s| {
        let handles: Vec<_> = (0..threads.clamp(1, jobs.max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= jobs {
                            break;
                        }
                        done.push((k, job(k)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join())
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(|_| CoreError::InvalidInput("a batch thread panicked".into()))?;
    let mut slots: Vec<Option<R>> = (0..jobs).map(|_| None).collect();
    for (k, r) in parts.into_iter().flatten() {
        slots[k] = Some(r);
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(k, r)| r.ok_or_else(|| CoreError::InvalidInput(format!("job {k} was not run"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_job_order_for_any_thread_count() {
        for threads in [0, 1, 2, 7, 64] {
            let out = run_jobs(50, threads, |k| k * k).unwrap();
            assert_eq!(out, (0..50).map(|k| k * k).collect::<Vec<_>>());
        }
        assert!(run_jobs(0, 4, |k| k).unwrap().is_empty());
    }

    #[test]
    fn a_panicking_job_is_an_error_not_a_crash() {
        let r = run_jobs(8, 2, |k| if k == 5 { panic!("job 5") } else { k });
        assert!(r.is_err());
    }
}
