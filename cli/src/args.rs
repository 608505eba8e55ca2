//! Command-line parsing (lexopt: small, no proc macros).

use std::path::PathBuf;

use lexopt::prelude::*;

pub const USAGE: &str = "\
usage:
  webinfer inspect MODEL [--json]
      inputs, outputs, opsets, op histogram and the ops the engine cannot run (exit 1 if any)
  webinfer run MODEL [--shape NAME=D,D,...] [--input NAME=FILE] [--json]
      run once; FILE holds the input's raw little-endian data; inputs not given get
      deterministic pseudo-random values
  webinfer bench MODEL [--shape ...] [--input ...] [--runs N] [--warmup N] [--json]
      native load, plan, first-run and per-run latency (median, p10, p90)
  webinfer profile MODEL [--shape ...] [--input ...] [--runs N] [--json]
      where the time goes: each planning stage, then each kind of operator per run";

pub enum Command {
    Inspect,
    Run,
    Bench { runs: usize, warmup: usize },
    Profile { runs: usize },
}

pub struct Args {
    pub command: Command,
    pub model: PathBuf,
    /// `--shape`: concrete dims for inputs with dynamic dims, fixed before planning.
    pub shapes: Vec<(String, Vec<usize>)>,
    pub inputs: Vec<(String, PathBuf)>,
    pub json: bool,
}

fn name_value(arg: &str, flag: &str) -> Result<(String, String), String> {
    arg.split_once('=')
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .ok_or_else(|| format!("{flag} takes NAME=VALUE, got `{arg}`"))
}

pub fn parse() -> Result<Args, String> {
    parse_from(std::env::args_os().skip(1))
}

fn parse_from(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Args, String> {
    let mut parser = lexopt::Parser::from_args(args);
    let (mut command, mut model) = (None, None);
    let (mut shapes, mut inputs, mut json) = (vec![], vec![], false);
    let (mut runs, mut warmup) = (30usize, 5usize);
    let err = |e: lexopt::Error| format!("{e}\n{USAGE}");
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Long("json") => json = true,
            Long("shape") => {
                let (name, dims) = name_value(&parser.value().map_err(err)?.string().map_err(err)?, "--shape")?;
                let dims = dims
                    .split(',')
                    .map(|d| d.trim().parse::<usize>().map_err(|_| format!("--shape {name}: `{d}` is not a size")))
                    .collect::<Result<_, _>>()?;
                shapes.push((name, dims));
            }
            Long("input") => {
                let (name, file) = name_value(&parser.value().map_err(err)?.string().map_err(err)?, "--input")?;
                inputs.push((name, PathBuf::from(file)));
            }
            Long("runs") => runs = parser.value().map_err(err)?.parse().map_err(err)?,
            Long("warmup") => warmup = parser.value().map_err(err)?.parse().map_err(err)?,
            Short('h') | Long("help") => return Err(USAGE.to_string()),
            Value(v) if command.is_none() => command = Some(v.string().map_err(err)?),
            Value(v) if model.is_none() => model = Some(PathBuf::from(v)),
            other => return Err(format!("{}\n{USAGE}", other.unexpected())),
        }
    }
    let command = match command.as_deref() {
        Some("inspect") => Command::Inspect,
        Some("run") => Command::Run,
        Some("bench") => Command::Bench { runs, warmup },
        Some("profile") => Command::Profile { runs },
        Some(other) => return Err(format!("unknown command `{other}`\n{USAGE}")),
        None => return Err(USAGE.to_string()),
    };
    let model = model.ok_or_else(|| format!("missing MODEL\n{USAGE}"))?;
    Ok(Args { command, model, shapes, inputs, json })
}
