//! `webinfer`: the engine the browser runs, on the command line. Inspect a model before
//! publishing it, run it on given or generated inputs, and time it natively (the baseline the
//! browser numbers are compared with).

mod args;
mod feeds;

use std::process::ExitCode;
use std::time::Instant;

use args::{Args, Command};
use serde_json::{json, Value};
use webinfer::{inspect, Inspection, Model, Plan, Tensor, TensorData, TensorInfo};

fn main() -> ExitCode {
    match args::parse().and_then(execute) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("webinfer: {message}");
            ExitCode::from(2)
        }
    }
}

fn execute(args: Args) -> Result<ExitCode, String> {
    let bytes = std::fs::read(&args.model).map_err(|e| format!("reading {}: {e}", args.model.display()))?;
    let context = |e: webinfer::Error| format!("{}: {e}", args.model.display());
    match args.command {
        Command::Inspect => {
            let report = inspect(&bytes).map_err(context)?;
            if args.json {
                println!("{}", inspection_json(&report));
            } else {
                print_inspection(&report);
            }
            // Exit 1 when the engine cannot run the model, so scripts can refuse to publish it.
            Ok(if report.unsupported.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Run => {
            let mut plan = plan(&bytes, &args).map_err(context)?;
            let feeds = feeds::build(plan.inputs(), &args.inputs)?;
            let outputs = plan.run(feeds).map_err(context)?;
            if args.json {
                let outputs: serde_json::Map<String, Value> =
                    outputs.iter().map(|(name, t)| (name.clone(), tensor_json(t))).collect();
                println!("{}", json!({ "outputs": outputs }));
            } else {
                outputs.iter().for_each(|(name, t)| println!("{name}: {}", summary(t)));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { runs, warmup } => {
            let report = bench(&bytes, &args, runs, warmup).map_err(|e| format!("{}: {e}", args.model.display()))?;
            if args.json {
                println!("{report}");
            } else {
                for (key, value) in report.as_object().into_iter().flatten() {
                    println!("{key:>14}: {value}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Profile { runs } => {
            let report = profile(&bytes, &args, runs).map_err(|e| format!("{}: {e}", args.model.display()))?;
            if args.json {
                println!("{report}");
            } else {
                print_profile(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Planning time per stage, then operator time per run over `runs` runs.
fn profile(bytes: &[u8], args: &Args, runs: usize) -> Result<Value, String> {
    let start = Instant::now();
    let clock = move || ms(start);
    let model = load(bytes, args).map_err(|e| e.to_string())?;
    let mut stages = vec![("load".to_string(), clock())];
    let mut plan = model
        .plan_observed(None, |stage| stages.push((stage.name().to_string(), clock())))
        .map_err(|e| e.to_string())?;
    let stages: Vec<Value> = stages
        .iter()
        .scan(0.0, |last, (name, at)| {
            let took = at - *last;
            *last = *at;
            Some(json!({ "stage": name, "ms": took }))
        })
        .collect();
    let feeds = feeds::build(plan.inputs(), &args.inputs)?;
    plan.run(feeds.clone()).map_err(|e| e.to_string())?; // the first run allocates; not profiled
    let ops = plan.profile(feeds, runs, clock).map_err(|e| e.to_string())?;
    let total: f64 = ops.iter().map(|o| o.ms).sum();
    let ops: Vec<Value> = ops
        .iter()
        .map(|o| json!({ "op": o.op, "nodes": o.nodes, "ms": o.ms, "share": o.ms / total }))
        .collect();
    Ok(json!({ "model": args.model.display().to_string(), "runs": runs, "planning": stages, "run_ms": total, "ops": ops }))
}

fn print_profile(report: &Value) {
    println!("planning (ms)");
    for stage in report["planning"].as_array().into_iter().flatten() {
        println!("  {:>10} {:>9.1}", stage["stage"].as_str().unwrap_or(""), stage["ms"].as_f64().unwrap_or(0.0));
    }
    println!("per run: {:.2} ms in operators, mean of {} runs", report["run_ms"].as_f64().unwrap_or(0.0), report["runs"]);
    for op in report["ops"].as_array().into_iter().flatten() {
        println!(
            "  {:>8.3} ms {:>5.1}% {:>4} x {}",
            op["ms"].as_f64().unwrap_or(0.0),
            op["share"].as_f64().unwrap_or(0.0) * 100.0,
            op["nodes"],
            op["op"].as_str().unwrap_or("")
        );
    }
}

/// Load, with the `--shape` overrides applied: everything before planning. An input given as
/// an ONNX tensor file (`.pb`) carries its shape, which pins the input unless `--shape` does.
fn load(bytes: &[u8], args: &Args) -> webinfer::Result<Model> {
    let mut model = Model::load(bytes)?;
    for (name, dims) in &args.shapes {
        model.set_input_shape(name, dims)?;
    }
    for (name, file) in &args.inputs {
        if feeds::is_tensor_proto(file) && !args.shapes.iter().any(|(n, _)| n == name) {
            if let Ok(tensor) = std::fs::read(file).map_err(|_| ()).and_then(|b| Tensor::from_onnx_pb(&b).map_err(|_| ())) {
                model.set_input_shape(name, &tensor.dims)?;
            }
        }
    }
    Ok(model)
}

fn plan(bytes: &[u8], args: &Args) -> webinfer::Result<Plan> {
    load(bytes, args)?.plan()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Load, plan and first run once each; then `warmup` runs, then `runs` timed runs.
fn bench(bytes: &[u8], args: &Args, runs: usize, warmup: usize) -> Result<Value, String> {
    let start = Instant::now();
    let model = load(bytes, args).map_err(|e| e.to_string())?;
    let load_ms = ms(start);
    let start = Instant::now();
    let mut plan = model.plan().map_err(|e| e.to_string())?;
    let plan_ms = ms(start);
    let feeds = feeds::build(plan.inputs(), &args.inputs)?;
    let mut run = || -> Result<f64, String> {
        let start = Instant::now();
        plan.run(feeds.clone()).map_err(|e| e.to_string())?;
        Ok(ms(start))
    };
    let first_run_ms = run()?;
    for _ in 0..warmup {
        run()?;
    }
    let mut times = (0..runs).map(|_| run()).collect::<Result<Vec<_>, _>>()?;
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times.get(((times.len() as f64 - 1.0) * p).round() as usize).copied();
    Ok(json!({
        "model": args.model.display().to_string(),
        "bytes": bytes.len(),
        "load_ms": load_ms,
        "plan_ms": plan_ms,
        "first_run_ms": first_run_ms,
        "runs": runs,
        "median_ms": pct(0.5),
        "p10_ms": pct(0.1),
        "p90_ms": pct(0.9),
    }))
}

fn print_inspection(report: &Inspection) {
    println!("size     {} bytes, sha256 {}", report.bytes, report.sha256);
    println!("producer {}", if report.producer.is_empty() { "?" } else { &report.producer });
    let opsets: Vec<String> = report.opsets.iter().map(|(d, v)| format!("{d} {v}")).collect();
    println!("opsets   {}", opsets.join(", "));
    for (title, infos) in [("inputs", &report.inputs), ("outputs", &report.outputs)] {
        println!("{title}");
        for info in infos {
            println!("  {} {} {}", info.name, info.dtype.as_deref().unwrap_or("?"), info.shape_string());
        }
    }
    let nodes: usize = report.ops.iter().map(|(_, n)| n).sum();
    println!("ops ({nodes} nodes)");
    for (op, count) in &report.ops {
        println!("  {count:>5} {op}");
    }
    if report.unsupported.is_empty() {
        println!("supported: every op runs in webinfer's engine");
    } else {
        println!("unsupported: {} node(s) webinfer's engine cannot run", report.unsupported.len());
        for n in &report.unsupported {
            println!("  {} (node {})", n.op, n.node);
        }
    }
}

fn info_json(info: &TensorInfo) -> Value {
    let dims = info.dims.as_ref().map(|d| d.iter().map(|d| d.to_string()).collect::<Vec<_>>());
    json!({ "name": info.name, "type": info.dtype, "dims": dims })
}

fn inspection_json(report: &Inspection) -> Value {
    json!({
        "bytes": report.bytes,
        "sha256": report.sha256,
        "producer": report.producer,
        "opsets": report.opsets.iter().map(|(d, v)| json!({ "domain": d, "version": v })).collect::<Vec<_>>(),
        "inputs": report.inputs.iter().map(info_json).collect::<Vec<_>>(),
        "outputs": report.outputs.iter().map(info_json).collect::<Vec<_>>(),
        "ops": report.ops.iter().map(|(op, n)| json!({ "op": op, "count": n })).collect::<Vec<_>>(),
        "unsupported": report.unsupported.iter().map(|n| json!({ "op": n.op, "node": n.node })).collect::<Vec<_>>(),
    })
}

fn tensor_json(t: &Tensor) -> Value {
    let data: Vec<Value> = match &t.data {
        TensorData::I64(v) => v.iter().map(|&x| json!(x)).collect(),
        TensorData::U64(v) => v.iter().map(|&x| json!(x)).collect(),
        TensorData::String(v) => v.iter().map(|x| json!(x)).collect(),
        _ => t.data.to_f64().into_iter().map(|x| json!(x)).collect(),
    };
    json!({ "type": t.dtype().name(), "dims": t.dims, "data": data })
}

fn summary(t: &Tensor) -> String {
    let v = t.data.to_f64();
    let dims: Vec<String> = t.dims.iter().map(|d| d.to_string()).collect();
    if v.is_empty() {
        return format!("{} [{}] (empty)", t.dtype(), dims.join(","));
    }
    let (min, max) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let argmax = v.iter().enumerate().fold(0, |best, (i, &x)| if x > v[best] { i } else { best });
    let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:.5}")).collect();
    format!(
        "{} [{}] min {min:.5} max {max:.5} mean {:.5} argmax {argmax}  [{}{}]",
        t.dtype(),
        dims.join(","),
        v.iter().sum::<f64>() / v.len() as f64,
        head.join(", "),
        if v.len() > 6 { ", …" } else { "" }
    )
}
