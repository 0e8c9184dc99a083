//! Offline runs on captured xDS: one hook call per Gateway, in input order, as EG calls it.
//!
//! EG calls the hook once per Gateway (or per GatewayClass with `mergeGateways`) with that
//! Gateway's resources only, so a dump holding several Gateways (or pods) is several calls,
//! never one merged request: merging would let one Gateway's routes decide another's chains.
//! [`run`] makes the calls; [`Run::output`] writes the result in the shape the input had (a
//! response for a request, the same dump for a dump), and [`Run::sections`] hands the reports
//! to `explain`. The CLI (`apply`, `explain`, `render`) and the golden-test kit share it.

use crate::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use crate::format::{self, Dump, Format, FormatError, Input};
use crate::report::{Origin, Section};
use crate::{Hook, Outcome};

/// Why an offline run cannot give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--gateway` names no Gateway of the input.
    #[error("--gateway {wanted:?} is not in the input, which holds: {present}")]
    UnknownGateway {
        /// What was asked for.
        wanted: String,
        /// What the input holds.
        present: String,
    },
    /// `--gateway` on an input that is one request.
    #[error("--gateway: the input is one request, not a dump of several Gateways")]
    NotADump,
    /// One response was asked for (`.pb`, `render`) and the input holds several Gateways.
    #[error(
        "{what} takes one Gateway, and the input holds {count}: pick one with --gateway ({present})"
    )]
    SeveralGateways {
        /// What needs a single Gateway.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// Their names.
        present: String,
    },
    /// The input could not be read or the output written.
    #[error(transparent)]
    Format(#[from] FormatError),
}

impl RunError {
    /// Whether the command line asked for something the input cannot give (exit 64), rather
    /// than the input being bad (exit 65).
    pub fn is_usage(&self) -> bool {
        !matches!(self, RunError::Format(_))
    }
}

/// One hook call of a run.
#[derive(Debug)]
pub struct Call {
    /// The Gateway or pod, for a dump.
    pub origin: Option<Origin>,
    /// What the hook did; `None` when the Gateway's dump holds none of the sections EG sends
    /// the hook (`egctl x translate -t bootstrap`), so no call was made.
    pub outcome: Option<Outcome>,
    /// Position of the Gateway in the dump.
    gateway: usize,
    /// The request's extension context (its ProcessorPolicies), which a second run needs too.
    context: Option<bytes::Bytes>,
}

/// A captured input and the hook's calls on it.
#[derive(Debug)]
pub struct Run {
    input: Input,
    /// The calls, in input order.
    pub calls: Vec<Call>,
}

/// Runs the hook on every Gateway of `input` (only on `pick`, `<namespace>/<name>`, when given).
pub fn run(hook: &Hook, input: Input, pick: Option<&str>) -> Result<Run, RunError> {
    let calls = match &input {
        Input::Request(request) => {
            if pick.is_some() {
                return Err(RunError::NotADump);
            }
            vec![Call {
                origin: None,
                outcome: Some(hook.post_translate_modify(request.clone())),
                gateway: 0,
                context: request.post_translate_context.clone(),
            }]
        }
        Input::Dump(dump) => {
            if let Some(wanted) = pick
                && !dump.gateways.iter().any(|g| g.name == wanted)
            {
                return Err(RunError::UnknownGateway {
                    wanted: wanted.to_owned(),
                    present: names(dump),
                });
            }
            dump.gateways
                .iter()
                .enumerate()
                .filter(|(_, g)| pick.is_none_or(|wanted| g.name == wanted))
                .map(|(i, g)| Call {
                    origin: Some(Origin {
                        name: g.name.clone(),
                        title: g.title(dump.kind),
                        path: if g.path.steps().is_empty() {
                            String::new()
                        } else {
                            g.path.to_string()
                        },
                    }),
                    outcome: (g.sections > 0)
                        .then(|| hook.post_translate_modify(g.request.clone())),
                    gateway: i,
                    context: g.request.post_translate_context.clone(),
                })
                .collect()
        }
    };
    Ok(Run { input, calls })
}

fn names(dump: &Dump) -> String {
    if dump.gateways.iter().all(|g| g.name.is_empty()) {
        return "no named Gateways (an Envoy config dump is one proxy)".to_owned();
    }
    dump.gateways
        .iter()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Run {
    /// The input as it was read.
    pub fn input(&self) -> &Input {
        &self.input
    }

    /// The reports, one section per call.
    pub fn sections(&self) -> Vec<Section<'_>> {
        self.calls
            .iter()
            .map(|call| Section {
                origin: call.origin.as_ref(),
                report: call.outcome.as_ref().map(|o| &o.report),
            })
            .collect()
    }

    /// The one response, for outputs that hold one (`.pb`, `render`); `what` names the
    /// output in the error when there are several.
    pub fn single_response(
        &self,
        what: &'static str,
    ) -> Result<Option<&PostTranslateModifyResponse>, RunError> {
        match self.calls.as_slice() {
            [call] => Ok(call.outcome.as_ref().map(|o| &o.response)),
            calls => Err(RunError::SeveralGateways {
                what,
                count: calls.len(),
                present: match &self.input {
                    Input::Dump(dump) => names(dump),
                    Input::Request(_) => String::new(),
                },
            }),
        }
    }

    /// The output in `format`: for a request, the response; for a dump, the same dump with
    /// each called Gateway's resources replaced by the hook's (`.pb`: the one Gateway's
    /// response). Also returns notes on what could not be written (see [`Dump::replace`]).
    pub fn output(&self, format: Format) -> Result<(Vec<u8>, Vec<String>), RunError> {
        let dump = match &self.input {
            Input::Dump(dump) if format != Format::Protobuf => dump,
            _ => {
                let response = self
                    .single_response(".pb output")?
                    .cloned()
                    .unwrap_or_default();
                return Ok((format::encode_response(&response, format)?, Vec::new()));
            }
        };
        let mut dump = dump.clone();
        let mut notes = Vec::new();
        for call in &self.calls {
            if let Some(outcome) = &call.outcome {
                notes.extend(dump.replace(call.gateway, &outcome.response)?);
            }
        }
        Ok((format::encode_text(&dump.doc, format, "output")?, notes))
    }

    /// The calls whose response, fed back as their request, comes back changed: a hook that
    /// is idempotent (a running proxy's config is already patched) leaves none.
    pub(crate) fn not_idempotent(&self, hook: &Hook) -> Vec<String> {
        self.calls
            .iter()
            .filter_map(|call| {
                let response = &call.outcome.as_ref()?.response;
                let again =
                    hook.post_translate_modify(as_request(response.clone(), call.context.clone()));
                (again.response != *response).then(|| {
                    call.origin
                        .as_ref()
                        .map_or_else(|| "the request".to_owned(), |o| o.title.clone())
                })
            })
            .collect()
    }
}

fn as_request(
    response: PostTranslateModifyResponse,
    context: Option<bytes::Bytes>,
) -> PostTranslateModifyRequest {
    let PostTranslateModifyResponse {
        clusters,
        secrets,
        listeners,
        routes,
    } = response;
    PostTranslateModifyRequest {
        post_translate_context: context,
        clusters,
        secrets,
        listeners,
        routes,
    }
}
