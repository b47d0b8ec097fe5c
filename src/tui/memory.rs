//! Memory a console left open for hours gives back (glibc only; elsewhere these do nothing).
//!
//! A fleet's polls come in bursts (every member at each step, whole reads as rollouts join):
//! glibc keeps what a burst freed, spread over one arena per thread, so the console's resident
//! memory followed its worst burst rather than what it holds. Measured at 50 rollouts with an
//! hour of history: one arena took 20 MiB off, and a trim after the bursts another 10–15.

/// One malloc arena for every thread: with a 2-thread runtime the lock is rarely contended,
/// and memory freed by one thread is reused by the others. Before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn one_arena() {
    // SAFETY: mallopt only sets a malloc parameter; nothing else runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the free pages malloc holds to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn give_back_freed() {
    // SAFETY: malloc_trim takes malloc's own lock and only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn one_arena() {}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back_freed() {}
