//! One error type for every stage, so callers (the browser bindings, the CLI) can turn any
//! failure into a message that says what to fix.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The bytes are not a readable ONNX model (corrupt, truncated, not ONNX at all).
    InvalidModel { reason: String },
    /// The model uses an operator tract does not implement.
    UnsupportedOp { op: String, node: String },
    /// The model parsed but could not be analysed, optimized or planned.
    Plan { reason: String },
    /// A feed or shape override names an input the model does not have.
    UnknownInput { name: String, inputs: Vec<String> },
    /// The model has an input that was not fed.
    MissingInput { name: String },
    /// The same input was fed twice.
    DuplicateInput { name: String },
    /// A feed's element type is not the one the model declares.
    WrongType { input: String, expected: String, got: String },
    /// A feed's shape does not fit the model's declared shape.
    WrongShape { input: String, expected: String, got: Vec<usize> },
    /// A feed's data length does not match the product of its dims.
    WrongLength { input: String, dims: Vec<usize>, expected: usize, got: usize },
    /// A float feed holds NaN, which tract and onnxruntime treat differently.
    NotANumber { input: String, index: Vec<usize> },
    /// A value the API cannot carry (e.g. a float16 output, an unknown type name).
    UnsupportedType { what: String },
    /// tract failed while running the plan.
    Run { reason: String },
    /// Bytes that are not a readable serialized ONNX `TensorProto` (`Tensor::from_onnx_pb`).
    InvalidTensor { reason: String },
    /// Pixels that do not make the image they claim to be.
    InvalidImage { reason: String },
    /// A manifest `preprocess` block that cannot be applied.
    InvalidPreprocess { reason: String },
    /// The model's tensors need more memory than the limit allows.
    TooLarge { need: u64, limit: u64 },
    /// tract panicked instead of returning an error; caught (engine/guard.rs), so the model or
    /// session that was being used is still usable.
    Panic { stage: PanicStage, node: Option<String>, message: String },
}

/// Where a caught panic happened, which says what the caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanicStage {
    Loading,
    Planning,
    Running,
}

impl Error {
    /// Wraps a tract error, keeping its whole context chain (`{:#}`) in the message.
    pub(crate) fn invalid_model(e: impl fmt::Display) -> Error {
        Error::InvalidModel { reason: format!("{e:#}") }
    }
    pub(crate) fn plan(e: impl fmt::Display) -> Error {
        Error::Plan { reason: format!("{e:#}") }
    }
    pub(crate) fn run(e: impl fmt::Display) -> Error {
        Error::Run { reason: format!("{e:#}") }
    }
}

fn dims(d: &[usize]) -> String {
    format!("[{}]", d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidModel { reason } => write!(
                f,
                "not a valid ONNX model ({reason}); the file may be truncated, corrupt or not ONNX"
            ),
            Error::UnsupportedOp { op, node } => write!(
                f,
                "unsupported operator `{op}` (node `{node}`): webinfer's engine (tract) cannot run it; \
                 re-export the model without it or replace it with supported ops"
            ),
            Error::Plan { reason } => write!(f, "could not prepare the model to run: {reason}"),
            Error::UnknownInput { name, inputs } => {
                write!(f, "unknown input `{name}`; the model's inputs are: {}", inputs.join(", "))
            }
            Error::MissingInput { name } => write!(f, "missing input `{name}`: every model input must be fed"),
            Error::DuplicateInput { name } => write!(f, "input `{name}` was fed more than once"),
            Error::WrongType { input, expected, got } => {
                write!(f, "input `{input}` expects {expected} data but got {got}")
            }
            Error::WrongShape { input, expected, got } => {
                write!(f, "input `{input}` expects shape {expected} but got dims {}", dims(got))
            }
            Error::WrongLength { input, dims: d, expected, got } => write!(
                f,
                "input `{input}` has dims {} ({expected} elements) but its data holds {got} elements",
                dims(d)
            ),
            Error::NotANumber { input, index } => write!(
                f,
                "input `{input}` holds NaN at index {}; check how it was computed (a division by zero, an \
                 image that failed to load?)",
                dims(index)
            ),
            Error::UnsupportedType { what } => write!(f, "{what}"),
            Error::Run { reason } => write!(f, "inference failed: {reason}"),
            Error::InvalidTensor { reason } => write!(f, "not a readable ONNX tensor (.pb): {reason}"),
            Error::InvalidImage { reason } => write!(f, "invalid image: {reason}"),
            Error::InvalidPreprocess { reason } => write!(f, "invalid manifest `preprocess`: {reason}"),
            Error::TooLarge { need, limit } => write!(
                f,
                "the model needs about {} MB for its weights and intermediate tensors, over the memory limit of {} MB \
                 (options.memoryLimitMB; a wasm32 page can address at most 4096 MB); it was not planned",
                need.div_ceil(1 << 20),
                limit / (1 << 20)
            ),
            Error::Panic { stage, node, message } => {
                let at = node.as_ref().map(|n| format!(" in node {n}")).unwrap_or_default();
                match stage {
                    PanicStage::Running => write!(
                        f,
                        "inference failed{at}: the engine (tract) panicked: {message}. The usual cause is an \
                         input value out of range for the model (an index past the end of a table, such as a \
                         token id past the vocabulary, or an integer division by zero); the session is still \
                         usable"
                    ),
                    PanicStage::Loading | PanicStage::Planning => write!(
                        f,
                        "could not {} the model{at}: the engine (tract) panicked: {message}. The model may be \
                         malformed, or use something tract handles wrongly; nothing else was affected",
                        if *stage == PanicStage::Loading { "load" } else { "prepare" }
                    ),
                }
            }
        }
    }
}

impl std::error::Error for Error {}
