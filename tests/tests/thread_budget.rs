//! The stack budget, set with `runtime::set_stack_budget`: past it,
//! `Builder::spawn` returns `OutOfMemory` naming `GREEN_MAX_STACKS`,
//! `thread::spawn` panics with std's message, and once green threads finish,
//! spawning works again. A dedicated binary, so the process (and its budget)
//! is fresh; the single test runs everything in order (the scenario is
//! shared with `thread_budget_env.rs`, which sets the budget by environment).

const BUDGET: usize = 200;

#[test]
fn spawn_past_the_budget_fails_then_recovers() {
    green_core::runtime::set_stack_budget(BUDGET);
    green_conformance::stack_budget_scenario(BUDGET);
}
