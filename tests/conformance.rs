//! ONNX's operator conformance cases, natively: every case of the onnx 1.17.0 node tests run
//! through the engine and judged against the outputs ONNX ships (tests/common/conformance.rs).
//! A case the committed list says passes must still pass; anything else is reported, not failed,
//! so the list only ever moves forward. `WEBINFER_CONFORMANCE_UPDATE=1` rewrites the list.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::conformance::{interface, parse_list, run_case, Verdict, CASES, LIST};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn verdict(case: &Path) -> Verdict {
    let model = read(&case.join("model.onnx"));
    let (inputs, outputs) = match interface(&model) {
        Ok(counts) => counts,
        Err(verdict) => return verdict,
    };
    let data = case.join("test_data_set_0");
    let files = |kind: &str, n: usize| (0..n).map(|i| read(&data.join(format!("{kind}_{i}.pb")))).collect::<Vec<_>>();
    run_case(&model, &files("input", inputs), &files("output", outputs))
}

#[test]
fn onnx_node_cases_that_passed_still_pass() {
    let dir = root().join(CASES);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!("{}: {e}; tools/setup.sh extracts the cases and ./build.sh test links them here", dir.display())
        })
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("test_"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 1288, "onnx 1.17.0 ships 1,288 node cases");

    let list_path = root().join(LIST);
    let listed = parse_list(&std::fs::read_to_string(&list_path).unwrap_or_default());
    let started = Instant::now();
    let mut lines = Vec::new();
    let (mut regressions, mut gained, mut slow) = (Vec::new(), Vec::new(), Vec::new());
    let mut counts = [0usize; 3];
    for name in &names {
        let start = Instant::now();
        let verdict = verdict(&dir.join(name));
        let took = start.elapsed().as_secs_f64();
        if took > 2.0 {
            slow.push(format!("{name} {took:.1}s"));
        }
        let was_pass = listed.get(name).is_some_and(|(word, _)| word == "pass");
        match (&verdict, was_pass) {
            (Verdict::Pass, false) => gained.push(name.clone()),
            (Verdict::Fail(_) | Verdict::Skip(_), true) => regressions.push(verdict.line(name)),
            _ => {}
        }
        counts[match verdict {
            Verdict::Pass => 0,
            Verdict::Fail(_) => 1,
            Verdict::Skip(_) => 2,
        }] += 1;
        lines.push(verdict.line(name));
    }
    println!(
        "onnx node cases: {} pass, {} fail, {} not tried, of {} ({:.0} s)",
        counts[0],
        counts[1],
        counts[2],
        names.len(),
        started.elapsed().as_secs_f64()
    );
    if !slow.is_empty() {
        println!("slower than 2 s: {}", slow.join(", "));
    }
    if !gained.is_empty() {
        let shown: Vec<&str> = gained.iter().take(20).map(String::as_str).collect();
        println!("{} newly passing (WEBINFER_CONFORMANCE_UPDATE=1 records them): {} ...", gained.len(), shown.join(" "));
    }
    if std::env::var_os("WEBINFER_CONFORMANCE_UPDATE").is_some() {
        let header = "# ONNX node conformance cases (onnx 1.17.0) as webinfer's engine answers them: pass, fail\n\
                      # (with the reason) or skip (not tried: a value that is not a tensor). Written by\n\
                      # WEBINFER_CONFORMANCE_UPDATE=1 cargo test --release --test conformance; a listed pass that\n\
                      # stops passing fails ./build.sh test.\n";
        std::fs::write(&list_path, format!("{header}{}\n", lines.join("\n"))).unwrap();
        println!("wrote {}", list_path.display());
    }
    assert!(regressions.is_empty(), "{} listed passes no longer pass:\n{}", regressions.len(), regressions.join("\n"));
}
