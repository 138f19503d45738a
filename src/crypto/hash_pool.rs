//! The threads password hashes run on: a small fixed pool of its own, not the runtime's
//! blocking pool, so that its threads can run at a lower OS priority (a higher nice
//! value) than the async workers. When logins and token traffic compete for the cores,
//! the scheduler then favours the cheap machine-to-machine requests; when nothing else
//! runs, the hashes still get every idle cycle, so logins alone are as fast as before.
//!
//! Hand-written rather than taken from a crate: what is needed is a handful of threads
//! that each lower their own priority once and run boxed closures; a general pool
//! (rayon, threadpool) would bring more than it gives. Bounding how much waits is the
//! caller's business (the hasher's semaphore), so the queue here never holds more jobs
//! than there are threads.
//!
//! Each thread also keeps argon2's working memory between hashes ([`with_scratch`]):
//! allocating, zeroing and faulting in 19 MiB for every hash, then handing it back to the
//! kernel, cost about a fifth of a login's CPU. The memory is bounded like the threads:
//! one working memory per thread, held from its first hash on (the allocator would keep
//! it for reuse anyway).

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

thread_local! {
    static SCRATCH: RefCell<Vec<argon2::Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's argon2 working memory, `blocks` blocks long. The memory
/// is reused as it is: argon2 writes every block before it reads it, so what an earlier
/// hash left there never reaches a result. The memory is freed when the thread ends.
pub fn with_scratch<R>(blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
    SCRATCH.with_borrow_mut(|m| {
        if m.len() != blocks {
            *m = Vec::new(); // the old one first: never both at once
            *m = vec![argon2::Block::default(); blocks];
        }
        f(m.as_mut_slice())
    })
}

/// How many blocks of working memory this thread holds now.
#[cfg(test)]
fn scratch_blocks() -> usize {
    SCRATCH.with_borrow(Vec::len)
}

/// Nice value of hashing threads when none is configured: well below the async workers
/// (about a tenth of a core's share against one busy worker), never starved.
pub const DEFAULT_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of named threads running jobs at a lowered priority. Dropping the last
/// handle lets the threads finish their current job and exit.
#[derive(Clone)]
pub struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool").finish_non_exhaustive()
    }
}

/// The job's thread went away before answering (it cannot, unless the process is ending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGone;

impl HashPool {
    /// Starts `threads` threads (at least one) that run `nice` steps below the thread
    /// that starts them (0..=19; the result stops at the lowest priority, 19).
    pub fn start(threads: usize, nice: i32) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("dd-hash-{i}")).stack_size(256 * 1024).spawn(move || {
                lower_priority(nice.clamp(0, 19));
                worker(&rx);
            })?;
        }
        Ok(Self { jobs: tx })
    }

    /// Runs `f` on a pool thread and waits for its answer without blocking the runtime.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolGone> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).map_err(|_| PoolGone)?;
        rx.await.map_err(|_| PoolGone)
    }
}

fn worker(rx: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running it.
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        // A panicking job drops its answer channel (the caller sees PoolGone) but must not
        // take a thread from the pool with it.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

/// Lowers the calling thread's scheduling priority by `steps` nice steps. On Linux the
/// nice value belongs to the thread (and a new thread inherits its creator's), so only
/// this pool's threads are affected. Lowering a priority needs no privilege; if the
/// system refuses anyway, hashing goes on at the inherited priority.
#[cfg(target_os = "linux")]
fn lower_priority(steps: i32) {
    if steps == 0 {
        return;
    }
    let target = rustix::process::getpriority_process(None).map_or(steps, |now| now.saturating_add(steps).min(19));
    if let Err(e) = rustix::process::setpriority_process(None, target) {
        tracing::warn!(error = %e, nice = target, "could not lower the priority of a password-hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_answers() {
        let pool = HashPool::start(2, 0).unwrap();
        let answers: Vec<_> = (0..8u32).map(|i| pool.run(move || i * i)).collect();
        let mut got = Vec::new();
        for a in answers {
            got.push(a.await.unwrap());
        }
        assert_eq!(got, vec![0, 1, 4, 9, 16, 25, 36, 49]);
    }

    #[tokio::test]
    async fn a_panicking_job_loses_its_answer_not_the_thread() {
        let pool = HashPool::start(1, 0).unwrap();
        let lost = pool.run(|| -> u8 { std::panic::panic_any("boom") }).await;
        assert_eq!(lost, Err(PoolGone));
        assert_eq!(pool.run(|| 7u8).await, Ok(7));
    }

    #[tokio::test]
    async fn a_thread_keeps_its_working_memory_between_jobs() {
        let pool = HashPool::start(1, 0).unwrap();
        let first = pool.run(|| with_scratch(64, |m| m.as_ptr() as usize)).await.unwrap();
        let again = pool.run(|| with_scratch(64, |m| m.as_ptr() as usize)).await.unwrap();
        assert_eq!(first, again, "the same memory, not a new allocation");
        assert_eq!(pool.run(scratch_blocks).await.unwrap(), 64);
        // Other parameters: resized.
        assert_eq!(pool.run(|| with_scratch(8, |m| m.len())).await.unwrap(), 8);
        assert_eq!(pool.run(scratch_blocks).await.unwrap(), 8, "one working memory per thread, never two");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn pool_threads_run_niced_and_the_caller_does_not() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let pool = HashPool::start(2, 7).unwrap();
        let inside = pool.run(|| rustix::process::getpriority_process(None).unwrap()).await.unwrap();
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert_eq!(inside, (before + 7).min(19), "pool thread nice");
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before, "caller untouched");
        assert!(name.is_some_and(|n| n.starts_with("dd-hash-")));
    }
}
