//! `generated/mod.rs` (modules, `messages`, `ApiKey`, `RequestKind`,
//! `ResponseKind`, the round-trip check list) and `arbitrary_support.rs`.

use super::header;
use crate::ir::Message;
use crate::names::api_variant;
use crate::spec::SpecKind;
use std::fmt::Write as _;

/// One API: its request and response.
struct Api<'a> {
    key: i16,
    variant: String,
    request: &'a Message,
    response: &'a Message,
}

fn apis(msgs: &[Message]) -> Result<Vec<Api<'_>>, String> {
    let mut out = Vec::new();
    for req in msgs.iter().filter(|m| m.kind == SpecKind::Request) {
        let key = req
            .api_key
            .ok_or_else(|| format!("{} has no apiKey", req.name))?;
        let variant = api_variant(&req.name);
        let response_name = format!("{variant}Response");
        let response = msgs
            .iter()
            .find(|m| m.name == response_name)
            .ok_or_else(|| format!("{} has no {response_name}", req.name))?;
        if response.kind != SpecKind::Response || response.api_key != Some(key) {
            return Err(format!(
                "{response_name} is not the response of API key {key}"
            ));
        }
        if response.valid != req.valid || response.flexible != req.flexible {
            return Err(format!("{response_name} versions differ from {}", req.name));
        }
        out.push(Api {
            key,
            variant,
            request: req,
            response,
        });
    }
    out.sort_by_key(|a| a.key);
    for pair in out.windows(2) {
        if pair[0].key == pair[1].key {
            return Err(format!("API key {} defined twice", pair[0].key));
        }
    }
    let responses = msgs.iter().filter(|m| m.kind == SpecKind::Response).count();
    if responses != out.len() {
        return Err("a response has no request".into());
    }
    Ok(out)
}

/// How `mod.rs` names a top-level type (imported from `messages`).
fn path(m: &Message) -> String {
    m.name.clone()
}

fn pick_of<'a>(kind: &str, a: &Api<'a>) -> &'a Message {
    if kind == "Request" {
        a.request
    } else {
        a.response
    }
}

/// The source of `generated/mod.rs`.
pub fn mod_file(msgs: &[Message]) -> Result<String, String> {
    let apis = apis(msgs)?;
    let mut o = header("the specs in codegen/specs");
    o.push_str(
        "//! Every message of the Kafka protocol (Apache Kafka 4.1.1 specs): one module per spec\n\
         //! file, the [`messages`] re-exports, [`ApiKey`], and the [`RequestKind`] /\n\
         //! [`ResponseKind`] enums that decode any API by key and version.\n\n",
    );
    for m in msgs {
        let _ = writeln!(o, "pub mod {};", m.module);
    }
    o.push_str("#[cfg(feature = \"arbitrary\")]\npub mod arbitrary_support;\n\n");
    o.push_str(
        "use crate::api::{Message, VersionRange};\n\
         use crate::error::{DecodeError, DecodeResult, EncodeResult};\n\
         use crate::wire::{Decode, Encode, WireBuf};\n\
         use bytes::Bytes;\n\
         use messages::*;\n\n",
    );

    o.push_str("/// Every top-level message type: requests, responses, headers and data schemas.\npub mod messages {\n");
    for m in msgs {
        let _ = writeln!(o, "pub use super::{}::{};", m.module, m.name);
    }
    o.push_str("}\n\n");

    // ApiKey
    o.push_str(
        "/// The API keys of every API with at least one version.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[repr(i16)]\npub enum ApiKey {\n",
    );
    for a in &apis {
        let _ = writeln!(
            o,
            "/// `{}` ({}).\n{} = {},",
            a.request.name, a.key, a.variant, a.key
        );
    }
    o.push_str("}\n\nimpl ApiKey {\n/// Every API key, ascending.\npub const ALL: &'static [ApiKey] = &[\n");
    for a in &apis {
        let _ = writeln!(o, "ApiKey::{},", a.variant);
    }
    o.push_str("];\n\n/// The API's name (`Produce`, `ApiVersions`...).\npub const fn name(self) -> &'static str {\nmatch self {\n");
    for a in &apis {
        let _ = writeln!(o, "ApiKey::{v} => {v:?},", v = a.variant);
    }
    o.push_str("}\n}\n\n/// Every version the API defines.\npub const fn versions(self) -> VersionRange {\nmatch self {\n");
    for a in &apis {
        let _ = writeln!(
            o,
            "ApiKey::{} => <{} as Message>::VERSIONS,",
            a.variant,
            path(a.request)
        );
    }
    o.push_str(
        "}\n}\n\n/// The lowest flexible version, if any.\npub const fn flexible_from(self) -> Option<i16> {\nmatch self {\n",
    );
    for a in &apis {
        let _ = writeln!(
            o,
            "ApiKey::{} => <{} as Message>::FLEXIBLE_FROM,",
            a.variant,
            path(a.request)
        );
    }
    o.push_str(
        "}\n}\n\n/// Whether `version` of this API uses the flexible encoding.\n\
         pub const fn is_flexible(self, version: i16) -> bool {\n\
         match self.flexible_from() {\nSome(from) => version >= from,\nNone => false,\n}\n}\n\n\
         /// Whether the highest version is unstable (not advertised by default).\n\
         pub const fn latest_version_unstable(self) -> bool {\n",
    );
    let unstable: Vec<String> = apis
        .iter()
        .filter(|a| a.request.latest_unstable)
        .map(|a| format!("ApiKey::{}", a.variant))
        .collect();
    if unstable.is_empty() {
        o.push_str("false\n}\n}\n\n");
    } else {
        let _ = writeln!(o, "matches!(self, {})\n}}\n}}\n", unstable.join(" | "));
    }
    o.push_str(
        "impl TryFrom<i16> for ApiKey {\ntype Error = DecodeError;\n\n\
         fn try_from(value: i16) -> Result<Self, Self::Error> {\nmatch value {\n",
    );
    for a in &apis {
        let _ = writeln!(o, "{} => Ok(ApiKey::{}),", a.key, a.variant);
    }
    o.push_str(
        "_ => Err(DecodeError::UnknownApiKey(value)),\n}\n}\n}\n\n\
         impl From<ApiKey> for i16 {\nfn from(key: ApiKey) -> i16 {\nkey as i16\n}\n}\n\n",
    );

    for (kind, doc) in [
        ("Request", "A request of any API"),
        ("Response", "A response of any API"),
    ] {
        let _ = writeln!(
            o,
            "/// {doc}, for code that handles APIs by key and version (brokers, proxies, fuzzers).\n\
             #[derive(Debug, Clone, PartialEq)]\n#[allow(clippy::large_enum_variant)]\npub enum {kind}Kind {{"
        );
        for a in &apis {
            let m = pick_of(kind, a);
            let _ = writeln!(o, "/// `{}`.\n{}({}),", m.name, a.variant, path(m));
        }
        let _ = writeln!(
            o,
            "}}\n\nimpl {kind}Kind {{\n/// The API key.\npub fn api_key(&self) -> ApiKey {{\nmatch self {{"
        );
        for a in &apis {
            let _ = writeln!(o, "{kind}Kind::{v}(_) => ApiKey::{v},", v = a.variant);
        }
        let _ = writeln!(
            o,
            "}}\n}}\n\n/// Decodes the {} body of `api_key` at `version`.\n\
             pub fn decode(api_key: ApiKey, version: i16, buf: &mut Bytes) -> DecodeResult<Self> {{\nmatch api_key {{",
            kind.to_lowercase()
        );
        for a in &apis {
            let _ = writeln!(
                o,
                "ApiKey::{v} => {}::decode(buf, version).map({kind}Kind::{v}),",
                path(pick_of(kind, a)),
                v = a.variant
            );
        }
        o.push_str(
            "}\n}\n\n/// Encodes the body at `version`.\n\
             pub fn encode<B: WireBuf>(&self, buf: &mut B, version: i16) -> EncodeResult<()> {\nmatch self {\n",
        );
        for a in &apis {
            let _ = writeln!(o, "{kind}Kind::{}(m) => m.encode(buf, version),", a.variant);
        }
        o.push_str("}\n}\n");
        if kind == "Response" {
            o.push_str(
                "\n/// The answer's `throttle_time_ms`, for a broker that throttles \
                 (KIP-219); `None` for an API without the field.\n\
                 pub fn throttle_time_ms_mut(&mut self) -> Option<&mut i32> {\nmatch self {\n",
            );
            for a in &apis {
                if let Some(f) = super::throttle_field(a.response) {
                    let _ = writeln!(
                        o,
                        "ResponseKind::{}(m) => Some(&mut m.{}),",
                        a.variant, f.ident
                    );
                }
            }
            o.push_str("_ => None,\n}\n}\n");
        }
        o.push_str("}\n\n");
        for a in &apis {
            let m = pick_of(kind, a);
            let _ = writeln!(
                o,
                "impl From<{p}> for {kind}Kind {{\nfn from(m: {p}) -> Self {{\n{kind}Kind::{}(m)\n}}\n}}\n",
                a.variant,
                p = path(m)
            );
        }
    }

    // round-trip checks
    o.push_str(
        "/// One round-trip check per top-level message type (see [`arbitrary_support::run_roundtrip`]).\n\
         #[cfg(feature = \"arbitrary\")]\npub fn all_message_roundtrip_checks() -> Vec<arbitrary_support::RoundtripCheck> {\n\
         use arbitrary_support::{run_roundtrip, RoundtripCheck, SchemaKind};\nvec![\n",
    );
    for m in msgs {
        let kind = match m.kind {
            SpecKind::Request => "Request",
            SpecKind::Response => "Response",
            SpecKind::Header => "Header",
            SpecKind::Data => "Data",
        };
        let api_key = match m.kind {
            SpecKind::Request | SpecKind::Response => {
                let base = m.name.strip_suffix(kind).unwrap_or(&m.name);
                format!("Some(ApiKey::{})", api_variant(&format!("{base}Request")))
            }
            _ => "None".to_string(),
        };
        let _ = writeln!(
            o,
            "RoundtripCheck {{ name: {name:?}, kind: SchemaKind::{kind}, api_key: {api_key}, \
             versions: <{p} as Message>::VERSIONS, \
             run: |version, cases| run_roundtrip(version, cases, {p}::arbitrary_for_version(version)) }},",
            name = m.name,
            p = path(m)
        );
    }
    o.push_str("]\n}\n");
    Ok(o)
}

/// The source of `generated/arbitrary_support.rs`.
pub fn arbitrary_support_file() -> String {
    let mut o = header("kafkacc-codegen's template (codegen/src/emit/registry.rs)");
    o.push_str(ARBITRARY_SUPPORT);
    o
}

const ARBITRARY_SUPPORT: &str = r#"//! proptest building blocks of the generated `arbitrary_for_version`
//! strategies, and the round-trip check run for every message and version.
//!
//! Sizes stay small so that deeply nested messages remain cheap: strings of
//! 0..8 chars, bytes of 0..16, arrays of 0..3 elements (0..8 for `[]int32`,
//! so that both the inline and the spilled `Int32List` are exercised).

use crate::api::Message;
use crate::generated::ApiKey;
use crate::wire::{RawTaggedField, WireBuf, WireChunks};
use crate::{Int32List, StrBytes, Uuid, VersionRange};
use bytes::{Bytes, BytesMut};
use proptest::prelude::{any, prop_oneof, BoxedStrategy, Just, Strategy};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::fmt::Debug;

/// A string of 0..8 arbitrary chars.
pub fn arb_string() -> BoxedStrategy<StrBytes> {
    proptest::collection::vec(any::<char>(), 0..8)
        .prop_map(|chars| StrBytes::from(chars.into_iter().collect::<String>()))
        .boxed()
}

/// 0..16 arbitrary bytes.
pub fn arb_bytes() -> BoxedStrategy<Bytes> {
    proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from).boxed()
}

/// An arbitrary UUID (zero now and then).
pub fn arb_uuid() -> BoxedStrategy<Uuid> {
    prop_oneof![1 => Just(Uuid::ZERO), 4 => any::<[u8; 16]>().prop_map(Uuid)].boxed()
}

/// A finite `f64`.
pub fn arb_f64() -> BoxedStrategy<f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).boxed()
}

/// 0..8 arbitrary ids: inline and spilled lists both.
pub fn arb_int32_list() -> BoxedStrategy<Int32List> {
    proptest::collection::vec(any::<i32>(), 0..8)
        .prop_map(|ids| ids.into_iter().collect())
        .boxed()
}

/// 0..3 elements.
pub fn arb_vec<T: Debug + 'static>(element: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    proptest::collection::vec(element, 0..3).boxed()
}

/// `None` sometimes when `nullable`, else always `Some`.
pub fn arb_nullable<T: Debug + 'static>(nullable: bool, value: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    if nullable {
        proptest::option::of(value).boxed()
    } else {
        value.prop_map(Some).boxed()
    }
}

/// A tagged field: its default now and then (so it is left off the wire).
pub fn arb_tagged<T: Clone + Debug + 'static>(default: T, value: BoxedStrategy<T>) -> BoxedStrategy<T> {
    prop_oneof![1 => Just(default), 2 => value].boxed()
}

/// In flexible versions, occasionally one unknown tagged field whose tag is
/// above every known tag.
pub fn arb_unknown_tagged(flexible: bool) -> BoxedStrategy<Vec<RawTaggedField>> {
    if !flexible {
        return Just(Vec::new()).boxed();
    }
    prop_oneof![
        4 => Just(Vec::new()),
        1 => (1000u32..1100, arb_bytes()).prop_map(|(tag, data)| vec![RawTaggedField { tag, data }]),
    ]
    .boxed()
}

/// What a top-level schema is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// An API request.
    Request,
    /// An API response.
    Response,
    /// A request or response header.
    Header,
    /// A data schema (consumer protocol, control records...).
    Data,
}

/// A round-trip check of one top-level message type.
#[derive(Debug, Clone, Copy)]
pub struct RoundtripCheck {
    /// The schema name.
    pub name: &'static str,
    /// What it is.
    pub kind: SchemaKind,
    /// Its API key, for requests and responses.
    pub api_key: Option<ApiKey>,
    /// Every valid version.
    pub versions: VersionRange,
    /// Runs `cases` random cases at one version.
    pub run: fn(i16, u32) -> Result<(), String>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("{what}: {e}"))
}

/// For `cases` values of `strategy`: encode then decode gives the value back
/// and consumes every byte; encoding the decoded value gives the same bytes;
/// and truncated encodings fail to decode (without panicking).
pub fn run_roundtrip<M: Message>(version: i16, cases: u32, strategy: BoxedStrategy<M>) -> Result<(), String> {
    let config = Config { cases, max_shrink_iters: 256, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    runner
        .run(&strategy, |value| {
            let mut buf = BytesMut::new();
            value.encode(&mut buf, version).map_err(|e| fail("encode", e))?;
            let bytes = buf.freeze();
            let mut input = bytes.clone();
            let decoded = M::decode(&mut input, version).map_err(|e| fail("decode", e))?;
            if !input.is_empty() {
                return Err(fail("decode", format!("{} bytes left over", input.len())));
            }
            if decoded != value {
                return Err(fail("decode", format!("got {decoded:?}")));
            }
            let mut again = BytesMut::new();
            decoded.encode(&mut again, version).map_err(|e| fail("re-encode", e))?;
            if again[..] != bytes[..] {
                return Err(fail("re-encode", "bytes differ"));
            }
            // In buffers, every bytes/records value referenced: the same bytes.
            let mut chunks = WireChunks::sharing_from(1);
            value.encode(&mut chunks, version).map_err(|e| fail("chunked encode", e))?;
            if chunks.written() != bytes.len() || chunks.into_bytes() != bytes {
                return Err(fail("chunked encode", "bytes differ"));
            }
            for cut in [0, bytes.len() / 2, bytes.len().saturating_sub(1)] {
                if cut < bytes.len() {
                    let mut short = bytes.slice(..cut);
                    if M::decode(&mut short, version).is_ok() {
                        return Err(fail("truncated decode", format!("a {cut}-byte prefix decoded")));
                    }
                }
            }
            Ok(())
        })
        .map_err(|e| format!("{} v{version}: {e}", M::NAME))
}
"#;
