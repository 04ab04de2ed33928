//! The stack budget, set with the `GREEN_MAX_STACKS` environment variable
//! (set by the test itself, before the first spawn): past it,
//! `Builder::spawn` returns `OutOfMemory` naming `GREEN_MAX_STACKS`,
//! `thread::spawn` panics with std's message, and once green threads finish,
//! spawning works again. A dedicated binary, so the process (and its budget)
//! is fresh; the single test runs everything in order (the scenario is
//! shared with `thread_budget.rs`, which sets the budget by API).

const BUDGET: usize = 200;

#[test]
fn spawn_past_the_budget_fails_then_recovers() {
    // The only test of this binary: nothing else reads the environment yet.
    std::env::set_var("GREEN_MAX_STACKS", BUDGET.to_string());
    green_conformance::stack_budget_scenario(BUDGET);
}
