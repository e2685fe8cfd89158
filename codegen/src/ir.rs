//! The normalized model the emitters work from: version sets resolved
//! against each message's valid versions, Rust types, parsed defaults.

use crate::names;
use crate::spec::{FieldSpec, MessageSpec, SpecKind, Versions};
use std::collections::{BTreeMap, BTreeSet};

/// A set of versions (0..=127) as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VSet(pub u128);

impl VSet {
    /// The empty set.
    pub const EMPTY: VSet = VSet(0);

    /// The versions of `range` that lie inside `within`.
    pub fn of(range: Versions, within: VSet) -> VSet {
        if range.is_empty() {
            return VSet::EMPTY;
        }
        let lo = range.lo.clamp(0, 127);
        let hi = range.hi.clamp(0, 127);
        let mut bits = 0u128;
        for v in lo..=hi {
            bits |= 1u128 << v;
        }
        VSet(bits & within.0)
    }

    /// Every version of a closed range.
    pub fn closed(range: Versions) -> VSet {
        VSet::of(range, VSet(u128::MAX))
    }

    /// Intersection.
    pub fn and(self, other: VSet) -> VSet {
        VSet(self.0 & other.0)
    }

    /// Difference.
    pub fn minus(self, other: VSet) -> VSet {
        VSet(self.0 & !other.0)
    }

    /// Whether empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `v` is in the set.
    pub fn contains(self, v: i16) -> bool {
        (0..128).contains(&v) && self.0 & (1u128 << v) != 0
    }

    /// Whether every version of `self` is in `other`.
    pub fn is_subset(self, other: VSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The versions, ascending.
    pub fn iter(self) -> impl Iterator<Item = i16> {
        (0i16..128).filter(move |&v| self.contains(v))
    }

    /// Lowest version.
    pub fn min(self) -> Option<i16> {
        self.iter().next()
    }

    /// Maximal runs of consecutive versions.
    pub fn runs(self) -> Vec<(i16, i16)> {
        let mut runs: Vec<(i16, i16)> = Vec::new();
        for v in self.iter() {
            match runs.last_mut() {
                Some((_, hi)) if *hi + 1 == v => *hi = v,
                _ => runs.push((v, v)),
            }
        }
        runs
    }
}

/// A condition on the message version, simplified for the versions that can
/// reach the code it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// True for every reachable version.
    Always,
    /// False for every reachable version.
    Never,
    /// A Rust boolean expression over `version`.
    Expr(String),
}

impl Cond {
    /// The simplest test of `version` that is true exactly on `set` for
    /// every version of `universe`.
    pub fn of(set: VSet, universe: VSet) -> Cond {
        let set = set.and(universe);
        if set == universe {
            return Cond::Always;
        }
        let Some(lo) = set.min() else {
            return Cond::Never;
        };
        let hi = set.iter().last().unwrap_or(lo);
        let agrees = |f: &dyn Fn(i16) -> bool| universe.iter().all(|v| f(v) == set.contains(v));
        if agrees(&|v| v >= lo) {
            Cond::Expr(format!("version >= {lo}"))
        } else if agrees(&|v| v <= hi) {
            Cond::Expr(format!("version <= {hi}"))
        } else if lo == hi && agrees(&|v| v == lo) {
            Cond::Expr(format!("version == {lo}"))
        } else if agrees(&|v| (lo..=hi).contains(&v)) {
            Cond::Expr(format!("({lo}..={hi}).contains(&version)"))
        } else {
            let arms: Vec<String> = set
                .runs()
                .into_iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}..={b}")
                    }
                })
                .collect();
            Cond::Expr(format!("matches!(version, {})", arms.join(" | ")))
        }
    }
}

/// A primitive spec type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    /// `bool`
    Bool,
    /// `int8`
    Int8,
    /// `int16`
    Int16,
    /// `uint16`
    Uint16,
    /// `int32`
    Int32,
    /// `uint32`
    Uint32,
    /// `int64`
    Int64,
    /// `float64`
    Float64,
    /// `uuid`
    Uuid,
    /// `string`
    String,
    /// `bytes`
    Bytes,
    /// `records`
    Records,
}

impl Prim {
    /// Parses a primitive type name.
    pub fn parse(name: &str) -> Option<Prim> {
        Some(match name {
            "bool" => Prim::Bool,
            "int8" => Prim::Int8,
            "int16" => Prim::Int16,
            "uint16" => Prim::Uint16,
            "int32" => Prim::Int32,
            "uint32" => Prim::Uint32,
            "int64" => Prim::Int64,
            "float64" => Prim::Float64,
            "uuid" => Prim::Uuid,
            "string" => Prim::String,
            "bytes" => Prim::Bytes,
            "records" => Prim::Records,
            _ => return None,
        })
    }

    /// The Rust type (records: the inner type of its `Option`).
    pub fn rust(self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::Int8 => "i8",
            Prim::Int16 => "i16",
            Prim::Uint16 => "u16",
            Prim::Int32 => "i32",
            Prim::Uint32 => "u32",
            Prim::Int64 => "i64",
            Prim::Float64 => "f64",
            Prim::Uuid => "Uuid",
            Prim::String => "StrBytes",
            Prim::Bytes | Prim::Records => "Bytes",
        }
    }

    /// Whether the value has a length prefix (compact in flexible versions).
    pub fn is_variable(self) -> bool {
        matches!(self, Prim::String | Prim::Bytes | Prim::Records)
    }

    /// Integer bounds, for checking defaults.
    fn int_bounds(self) -> Option<(i128, i128)> {
        Some(match self {
            Prim::Int8 => (i8::MIN.into(), i8::MAX.into()),
            Prim::Int16 => (i16::MIN.into(), i16::MAX.into()),
            Prim::Uint16 => (0, u16::MAX.into()),
            Prim::Int32 => (i32::MIN.into(), i32::MAX.into()),
            Prim::Uint32 => (0, u32::MAX.into()),
            Prim::Int64 => (i64::MIN.into(), i64::MAX.into()),
            _ => return None,
        })
    }
}

/// The element type of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elem {
    /// An array of primitives.
    Prim(Prim),
    /// An array of structs.
    Struct(String),
}

/// A field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// A primitive.
    Prim(Prim),
    /// `[]T`.
    Array(Elem),
    /// A struct.
    Struct(String),
}

/// A field's default value.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// No `default`: zero, false, empty, zero UUID, struct of defaults, or
    /// null for records.
    TypeDefault,
    /// `"null"`.
    Null,
    /// An integer.
    Int(i128),
    /// A float, as written.
    Float(String),
    /// A bool.
    Bool(bool),
    /// A string.
    Str(String),
}

/// One field of a struct.
#[derive(Debug, Clone)]
pub struct Field {
    /// Name as in the spec.
    pub spec_name: String,
    /// Rust identifier (`r#type` for keywords).
    pub ident: String,
    /// Type.
    pub ty: FieldType,
    /// `versions` as written.
    pub versions: Versions,
    /// `nullableVersions` as written.
    pub nullable: Versions,
    /// `tag` and `taggedVersions`.
    pub tagged: Option<(u32, Versions)>,
    /// Valid versions in which the field is on the wire (body or tagged).
    pub present: VSet,
    /// Valid versions in which the field is in the body.
    pub body: VSet,
    /// Valid versions in which the field is in the tagged section.
    pub tagged_set: VSet,
    /// Valid versions in which the field is present and may be null.
    pub nullable_set: VSet,
    /// Whether the Rust type is an `Option`.
    pub optional: bool,
    /// Default.
    pub default: DefaultValue,
    /// `ignorable`.
    pub ignorable: bool,
    /// Field-level `flexibleVersions`, resolved against the valid versions.
    pub compact_override: Option<VSet>,
}

/// One struct: the message body, a nested struct or a common struct.
#[derive(Debug, Clone)]
pub struct Struct {
    /// Rust name (the spec's type name).
    pub name: String,
    /// Whether this is the top-level message struct.
    pub top: bool,
    /// Fields in spec order.
    pub fields: Vec<Field>,
}

impl Struct {
    /// Fields tagged in some version, by ascending tag.
    pub fn tagged_fields(&self) -> Vec<&Field> {
        let mut v: Vec<&Field> = self
            .fields
            .iter()
            .filter(|f| !f.tagged_set.is_empty())
            .collect();
        v.sort_by_key(|f| f.tagged.map(|t| t.0));
        v
    }
}

/// One spec file, normalized.
#[derive(Debug, Clone)]
pub struct Message {
    /// Spec file name, e.g. `ProduceRequest.json`.
    pub file: String,
    /// Schema name.
    pub name: String,
    /// Rust module (and file stem).
    pub module: String,
    /// Kind of schema.
    pub kind: SpecKind,
    /// API key, for requests and responses.
    pub api_key: Option<i16>,
    /// Valid versions (closed).
    pub valid: Versions,
    /// Flexible versions as written.
    pub flexible: Versions,
    /// Every valid version.
    pub all: VSet,
    /// Valid versions that are flexible.
    pub flexible_set: VSet,
    /// `latestVersionUnstable`.
    pub latest_unstable: bool,
    /// Top-level struct first, then nested ones (depth first), then common structs.
    pub structs: Vec<Struct>,
}

impl Message {
    /// The lowest flexible version, if any valid version is flexible.
    pub fn flexible_from(&self) -> Option<i16> {
        if self.flexible.is_empty() {
            None
        } else {
            Some(self.flexible.lo)
        }
    }
}

/// Names the generated files import; a struct may not take one of them.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "Bytes",
    "BytesMut",
    "BufMut",
    "StrBytes",
    "Uuid",
    "RawTaggedField",
    "Encode",
    "Decode",
    "Message",
    "Request",
    "VersionRange",
    "ApiKey",
    "DecodeError",
    "EncodeError",
    "DecodeResult",
    "EncodeResult",
    "Option",
    "Vec",
    "Some",
    "None",
    "Ok",
    "Err",
    "Result",
    "Default",
    "String",
    "Box",
    "Self",
    "BoxedStrategy",
    "Just",
    "Strategy",
];

/// Builds the model of one spec. Returns `Ok(None)` for specs with no valid
/// versions.
pub fn build(file: &str, spec: &MessageSpec) -> Result<Option<Message>, String> {
    let ctx = |e: String| format!("{file}: {e}");
    let valid = Versions::parse(&spec.valid_versions).map_err(ctx)?;
    if valid.is_empty() {
        return Ok(None);
    }
    if valid.is_open() || valid.hi > 127 {
        return Err(ctx(format!(
            "validVersions {valid} must be a closed range below 128"
        )));
    }
    let flexible = Versions::parse_opt(spec.flexible_versions.as_deref()).map_err(ctx)?;
    let all = VSet::closed(valid);
    let flexible_set = VSet::of(flexible, all);
    match (spec.kind, spec.api_key) {
        (SpecKind::Request | SpecKind::Response, None) => {
            return Err(ctx("request/response without apiKey".into()));
        }
        (SpecKind::Header | SpecKind::Data, Some(_)) => {
            return Err(ctx("header/data with an apiKey".into()));
        }
        _ => {}
    }
    let mut b = Builder {
        all,
        flexible_set,
        common: spec.common_structs.iter().map(|c| c.name.clone()).collect(),
        structs: Vec::new(),
        defined: BTreeSet::new(),
    };
    b.defined.insert(spec.name.clone());
    b.add_struct(&spec.name, true, &spec.fields).map_err(ctx)?;
    for common in &spec.common_structs {
        b.add_struct(&common.name, false, &common.fields)
            .map_err(ctx)?;
    }
    // every referenced struct must be defined
    for s in &b.structs {
        for f in &s.fields {
            let referenced = match &f.ty {
                FieldType::Struct(n) | FieldType::Array(Elem::Struct(n)) => Some(n),
                _ => None,
            };
            if let Some(n) = referenced {
                if !b.structs.iter().any(|s| &s.name == n) {
                    return Err(ctx(format!("struct {n} is used but never defined")));
                }
            }
        }
    }
    Ok(Some(Message {
        file: file.to_string(),
        name: spec.name.clone(),
        module: names::module_name(&spec.name),
        kind: spec.kind,
        api_key: spec.api_key,
        valid,
        flexible,
        all,
        flexible_set,
        latest_unstable: spec.latest_version_unstable,
        structs: b.structs,
    }))
}

struct Builder {
    all: VSet,
    flexible_set: VSet,
    common: BTreeSet<String>,
    structs: Vec<Struct>,
    defined: BTreeSet<String>,
}

impl Builder {
    fn add_struct(&mut self, name: &str, top: bool, specs: &[FieldSpec]) -> Result<(), String> {
        if RESERVED_TYPE_NAMES.contains(&name) {
            return Err(format!("struct name {name} collides with an imported name"));
        }
        let index = self.structs.len();
        self.structs.push(Struct {
            name: name.to_string(),
            top,
            fields: Vec::new(),
        });
        let mut fields = Vec::with_capacity(specs.len());
        let mut idents = BTreeSet::new();
        let mut tags = BTreeMap::new();
        for fs in specs {
            let field = self
                .field(fs)
                .map_err(|e| format!("{name}.{}: {e}", fs.name))?;
            if !idents.insert(names::bare(&field.ident).to_string())
                || names::bare(&field.ident) == "unknown_tagged_fields"
            {
                return Err(format!("{name}: duplicate field name {}", field.ident));
            }
            if let Some((tag, _)) = field.tagged {
                if let Some(other) = tags.insert(tag, fs.name.clone()) {
                    return Err(format!("{name}: tag {tag} used by {other} and {}", fs.name));
                }
            }
            fields.push(field);
        }
        self.structs[index].fields = fields;
        Ok(())
    }

    fn field(&mut self, fs: &FieldSpec) -> Result<Field, String> {
        let versions = Versions::parse(&fs.versions)?;
        let nullable = Versions::parse_opt(fs.nullable_versions.as_deref())?;
        let ty = self.field_type(fs)?;
        let present = VSet::of(versions, self.all);
        let tagged = match (fs.tag, fs.tagged_versions.as_deref()) {
            (Some(tag), Some(tv)) => {
                let tv = Versions::parse(tv)?;
                if !tv.is_open() {
                    return Err(format!("taggedVersions {tv} must be open-ended"));
                }
                Some((tag, tv))
            }
            (None, None) => None,
            _ => return Err("tag and taggedVersions must come together".into()),
        };
        let tagged_set = match tagged {
            Some((_, tv)) => {
                let set = VSet::of(tv, present);
                if !set.is_subset(self.flexible_set) {
                    return Err("tagged in a version that is not flexible".into());
                }
                set
            }
            None => VSet::EMPTY,
        };
        let nullable_set = VSet::of(nullable, present);
        let can_be_null = match &ty {
            FieldType::Prim(p) => matches!(p, Prim::String | Prim::Bytes | Prim::Records),
            FieldType::Array(_) | FieldType::Struct(_) => true,
        };
        if !nullable.is_empty() && !can_be_null {
            return Err("nullableVersions on a type that cannot be null".into());
        }
        let optional = !nullable.is_empty() || ty == FieldType::Prim(Prim::Records);
        let default = parse_default(&ty, fs.default.as_ref().map(|d| d.0.as_str()), optional)?;
        let compact_override = match fs.flexible_versions.as_deref() {
            None => None,
            Some(text) => {
                if !matches!(ty, FieldType::Prim(Prim::String | Prim::Bytes)) {
                    return Err("field-level flexibleVersions on a non-string/bytes field".into());
                }
                Some(VSet::of(Versions::parse(text)?, self.all))
            }
        };
        Ok(Field {
            spec_name: fs.name.clone(),
            ident: names::field_ident(&fs.name),
            ty,
            versions,
            nullable,
            tagged,
            present,
            body: present.minus(tagged_set),
            tagged_set,
            nullable_set,
            optional,
            default,
            ignorable: fs.ignorable,
            compact_override,
        })
    }

    fn field_type(&mut self, fs: &FieldSpec) -> Result<FieldType, String> {
        let (is_array, inner) = match fs.ty.strip_prefix("[]") {
            Some(inner) => (true, inner),
            None => (false, fs.ty.as_str()),
        };
        if let Some(p) = Prim::parse(inner) {
            if fs.fields.is_some() {
                return Err("a primitive type with nested fields".into());
            }
            return match (is_array, p) {
                (true, Prim::Records) => Err("array of records".into()),
                (true, p) => Ok(FieldType::Array(Elem::Prim(p))),
                (false, p) => Ok(FieldType::Prim(p)),
            };
        }
        if !inner.starts_with(|c: char| c.is_ascii_uppercase())
            || !inner.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(format!("unknown type {}", fs.ty));
        }
        match &fs.fields {
            Some(nested) => {
                if self.common.contains(inner) || !self.defined.insert(inner.to_string()) {
                    return Err(format!("struct {inner} defined twice"));
                }
                self.add_struct(inner, false, nested)?;
            }
            None => {
                if !self.common.contains(inner) {
                    return Err(format!(
                        "struct {inner} has no fields and is not a common struct"
                    ));
                }
            }
        }
        let name = inner.to_string();
        Ok(if is_array {
            FieldType::Array(Elem::Struct(name))
        } else {
            FieldType::Struct(name)
        })
    }
}

fn parse_default(
    ty: &FieldType,
    text: Option<&str>,
    optional: bool,
) -> Result<DefaultValue, String> {
    let Some(text) = text else {
        return Ok(DefaultValue::TypeDefault);
    };
    if text == "null" {
        if !optional {
            return Err("default null on a field that is never nullable".into());
        }
        return Ok(DefaultValue::Null);
    }
    match ty {
        FieldType::Prim(Prim::Bool) => match text {
            "true" => Ok(DefaultValue::Bool(true)),
            "false" => Ok(DefaultValue::Bool(false)),
            _ => Err(format!("bad bool default {text:?}")),
        },
        FieldType::Prim(Prim::Float64) => {
            let v: f64 = text
                .parse()
                .map_err(|_| format!("bad float default {text:?}"))?;
            if !v.is_finite() {
                return Err(format!("non-finite float default {text:?}"));
            }
            Ok(DefaultValue::Float(format!("{v:?}")))
        }
        FieldType::Prim(Prim::String) => Ok(DefaultValue::Str(text.to_string())),
        FieldType::Prim(p) if p.int_bounds().is_some() => {
            let (neg, digits) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let magnitude = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(hex) => i128::from_str_radix(hex, 16),
                None => digits.parse::<i128>(),
            }
            .map_err(|_| format!("bad integer default {text:?}"))?;
            let v = if neg { -magnitude } else { magnitude };
            let (lo, hi) = p.int_bounds().unwrap_or((0, 0));
            if v < lo || v > hi {
                return Err(format!("default {text} out of range for {}", p.rust()));
            }
            Ok(DefaultValue::Int(v))
        }
        _ if text.is_empty() => Ok(DefaultValue::TypeDefault),
        _ => Err(format!("unsupported default {text:?} for this type")),
    }
}

/// Builds the model of every spec, sorted by spec name.
pub fn build_all(specs: &[(String, MessageSpec)]) -> Result<Vec<Message>, String> {
    let mut out = Vec::new();
    let mut modules = BTreeSet::new();
    for (file, spec) in specs {
        if let Some(m) = build(file, spec)? {
            if !modules.insert(m.module.clone()) {
                return Err(format!("{file}: module name {} used twice", m.module));
            }
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_spec;

    fn set(lo: i16, hi: i16) -> VSet {
        VSet::closed(Versions { lo, hi })
    }

    #[test]
    fn conditions_simplify_against_the_universe() {
        let all = set(3, 13);
        assert_eq!(Cond::of(set(0, 127), all), Cond::Always);
        assert_eq!(Cond::of(VSet::EMPTY, all), Cond::Never);
        assert_eq!(
            Cond::of(set(9, 127), all),
            Cond::Expr("version >= 9".into())
        );
        assert_eq!(
            Cond::of(set(0, 12), all),
            Cond::Expr("version <= 12".into())
        );
        assert_eq!(
            Cond::of(set(8, 10), all),
            Cond::Expr("(8..=10).contains(&version)".into())
        );
        assert_eq!(Cond::of(set(5, 5), all), Cond::Expr("version == 5".into()));
        let gap = VSet(set(3, 4).0 | set(7, 8).0);
        assert_eq!(
            Cond::of(gap, all),
            Cond::Expr("matches!(version, 3..=4 | 7..=8)".into())
        );
    }

    #[test]
    fn builds_fields_with_version_sets_and_defaults() {
        let text = r#"{
          "apiKey": 0, "type": "request", "name": "XRequest",
          "validVersions": "3-13", "flexibleVersions": "9+",
          "fields": [
            { "name": "Id", "type": "string", "versions": "3+", "nullableVersions": "3+", "default": "null" },
            { "name": "Max", "type": "int32", "versions": "0+", "default": "0x7fffffff" },
            { "name": "Type", "type": "int8", "versions": "0-12", "default": -1, "ignorable": true },
            { "name": "Recs", "type": "records", "versions": "0+" },
            { "name": "Tagged", "type": "[]Item", "versions": "10+", "tag": 0, "taggedVersions": "10+",
              "fields": [ { "name": "P", "type": "[]int32", "versions": "0+" }, { "name": "C", "type": "Shared", "versions": "0+" } ] }
          ],
          "commonStructs": [ { "name": "Shared", "versions": "0+", "fields": [ { "name": "U", "type": "uuid", "versions": "0+" } ] } ]
        }"#;
        let spec = parse_spec(text).expect("spec");
        let m = build("XRequest.json", &spec)
            .expect("builds")
            .expect("has versions");
        assert_eq!(m.module, "x_request");
        assert_eq!(m.flexible_from(), Some(9));
        let names: Vec<_> = m.structs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["XRequest", "Item", "Shared"]);
        let f = &m.structs[0].fields;
        assert!(f[0].optional && f[0].default == DefaultValue::Null);
        assert_eq!(f[1].default, DefaultValue::Int(0x7fff_ffff));
        assert_eq!(f[2].ident, "r#type");
        assert_eq!(f[2].default, DefaultValue::Int(-1));
        assert_eq!(f[2].body, set(3, 12));
        assert!(f[3].optional && f[3].nullable_set.is_empty());
        assert_eq!(f[4].tagged_set, set(10, 13));
        assert!(f[4].body.is_empty());
        assert_eq!(f[4].ty, FieldType::Array(Elem::Struct("Item".into())));
    }

    #[test]
    fn rejects_bad_specs() {
        let bad = [
            // tagged outside flexible versions
            r#"{"type":"data","name":"A","validVersions":"0-3","flexibleVersions":"2+",
               "fields":[{"name":"X","type":"int32","versions":"0+","tag":0,"taggedVersions":"1+"}]}"#,
            // undefined struct
            r#"{"type":"data","name":"A","validVersions":"0","fields":[{"name":"X","type":"Nope","versions":"0+"}]}"#,
            // default out of range
            r#"{"type":"data","name":"A","validVersions":"0","fields":[{"name":"X","type":"int8","versions":"0+","default":"300"}]}"#,
            // null default on a non-nullable field
            r#"{"type":"data","name":"A","validVersions":"0","fields":[{"name":"X","type":"string","versions":"0+","default":"null"}]}"#,
            // duplicate tag
            r#"{"type":"data","name":"A","validVersions":"0","flexibleVersions":"0+","fields":[
               {"name":"X","type":"int32","versions":"0+","tag":1,"taggedVersions":"0+"},
               {"name":"Y","type":"int32","versions":"0+","tag":1,"taggedVersions":"0+"}]}"#,
        ];
        for text in bad {
            let spec = parse_spec(text).expect("parses");
            assert!(build("A.json", &spec).is_err(), "{text}");
        }
        let none = parse_spec(
            r#"{"apiKey":4,"type":"request","name":"LeaderAndIsrRequest","validVersions":"none"}"#,
        )
        .expect("parses");
        assert!(matches!(build("L.json", &none), Ok(None)));
    }
}
