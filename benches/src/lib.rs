//! Benchmarks, and the plumbing their binaries share: each table cell is
//! measured in a fresh child process (so peak RSS, runtime workers and
//! global state belong to one measurement), and the parent prints the
//! table.
#![forbid(unsafe_code)]

use std::process::Command;
use std::time::Duration;

/// The child side of [`print_table`]: if this process was started with
/// exactly two arguments, `<scenario> <system>`, runs `run(scenario, system)`,
/// prints its cell as a `RESULT <cell>` line and returns `true` (the caller
/// should then exit). Returns `false`, having done nothing, otherwise.
pub fn run_cell_from_args(run: impl FnOnce(&str, &str) -> String) -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        return false;
    }
    let cell = run(&args[1], &args[2]);
    println!("RESULT {cell}");
    true
}

/// Prints a Markdown table with one row per scenario and one column per
/// system (headed by the matching entry of `columns`). Each cell comes from
/// running the current executable as `<exe> <scenario> <system>` in a child
/// process (see [`run_cell_from_args`]); a child that prints no `RESULT`
/// line gives a `failed (<exit status>)` cell. Rows are printed as they
/// complete.
///
/// # Panics
///
/// If the current executable cannot be found or started.
pub fn print_table(scenarios: &[&str], systems: &[&str], columns: &[&str]) {
    assert_eq!(systems.len(), columns.len(), "one column header per system");
    let exe = std::env::current_exe().expect("own path");
    println!("| scenario | {} |", columns.join(" | "));
    println!("|---|{}", "---|".repeat(columns.len()));
    for scenario in scenarios {
        let mut row = format!("| {scenario} |");
        for system in systems {
            let out = Command::new(&exe)
                .args([scenario, system])
                .output()
                .expect("run child");
            let text = String::from_utf8_lossy(&out.stdout);
            let cell = match text.lines().find_map(|l| l.strip_prefix("RESULT ")) {
                Some(r) => r.to_string(),
                None => format!("failed ({})", out.status),
            };
            row.push_str(&format!(" {cell} |"));
        }
        println!("{row}");
    }
}

/// Builds `benches/go/<name>.go` into `target/go-<name>` if `go` is
/// installed, and returns the binary's path; `None` without `go` or when
/// the build fails (go's own message is on stderr).
pub fn go_binary(name: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let out = root.join("target").join(format!("go-{name}"));
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(root.join("benches/go").join(format!("{name}.go")))
        .status()
        .ok()?;
    built.success().then_some(out)
}

/// The best (shortest) of `reps` runs of `f`, each of which times itself and
/// returns its own elapsed time (so setup outside the timed part is not
/// counted). `Duration::ZERO` if `reps` is 0.
pub fn best(reps: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..reps).map(|_| f()).min().unwrap_or_default()
}
