//! `Encode` / `Decode` implementations: straight-line code per field, with
//! version tests simplified against the versions that can reach them.

use super::types::non_default;
use crate::ir::{Cond, Elem, Field, FieldType, Message, Prim, Struct, VSet};
use std::fmt::Write as _;

/// Builds one function body and records what it used, so the signature can
/// mark unused parameters and `flexible` is declared only when needed.
struct Body<'a> {
    msg: &'a Message,
    s: &'a Struct,
    uses_version: bool,
    uses_buf: bool,
    uses_flexible: bool,
}

impl<'a> Body<'a> {
    fn new(msg: &'a Message, s: &'a Struct) -> Self {
        Body {
            msg,
            s,
            uses_version: false,
            uses_buf: false,
            uses_flexible: false,
        }
    }

    fn cond(&mut self, set: VSet, universe: VSet) -> Cond {
        let c = Cond::of(set, universe);
        if matches!(c, Cond::Expr(_)) {
            self.uses_version = true;
        }
        c
    }

    fn version(&mut self) -> &'static str {
        self.uses_version = true;
        "version"
    }

    fn buf(&mut self) -> &'static str {
        self.uses_buf = true;
        "buf"
    }

    /// The `compact` argument for a field read or written in `universe`.
    fn compact(&mut self, f: &Field, universe: VSet) -> String {
        let set = f.compact_override.unwrap_or(self.msg.flexible_set);
        match Cond::of(set, universe) {
            Cond::Always => "true".into(),
            Cond::Never => "false".into(),
            Cond::Expr(e) if f.compact_override.is_some() => {
                self.uses_version = true;
                format!("({e})")
            }
            Cond::Expr(_) => {
                self.uses_flexible = true;
                "flexible".into()
            }
        }
    }

    fn field_name(&self, f: &Field) -> String {
        format!("{}.{}", self.s.name, f.spec_name)
    }

    /// Statements writing `self.<field>` to `buf`, for the versions of `universe`.
    fn write(&mut self, f: &Field, universe: VSet) -> String {
        self.uses_buf = true;
        let c = self.compact(f, universe);
        let name = self.field_name(f);
        let a = format!("self.{}", f.ident);
        let null_err = format!("ok_or(EncodeError::NullNotAllowed({name:?}))?");
        let nullable = if f.optional {
            self.cond(f.nullable_set, universe)
        } else {
            Cond::Never
        };
        // (writer of a present value, writer of an Option, how to get a present value from the Option)
        let pick = |always_null: &str, never_null: &str, nullable: &Cond| -> String {
            match nullable {
                Cond::Always => always_null.to_string(),
                Cond::Never => never_null.to_string(),
                Cond::Expr(e) => format!("if {e} {{ {always_null} }} else {{ {never_null} }}"),
            }
        };
        match &f.ty {
            FieldType::Prim(p) => match p {
                Prim::Bool => format!("write_bool(buf, {a});"),
                Prim::Uuid => format!("write_uuid(buf, &{a});"),
                Prim::String | Prim::Bytes | Prim::Records => {
                    let kind = if *p == Prim::String {
                        "string"
                    } else {
                        "bytes"
                    };
                    // Strings are written from `&str`; bytes from `&Bytes`,
                    // which a `WireChunks` may reference instead of copying.
                    let as_ref = if *p == Prim::String {
                        "as_deref"
                    } else {
                        "as_ref"
                    };
                    if f.optional {
                        pick(
                            &format!("write_nullable_{kind}(buf, {a}.{as_ref}(), {c})?;"),
                            &format!("write_{kind}(buf, {a}.{as_ref}().{null_err}, {c})?;"),
                            &nullable,
                        )
                    } else {
                        format!("write_{kind}(buf, &{a}, {c})?;")
                    }
                }
                _ => format!("buf.put_{}({a});", p.rust()),
            },
            FieldType::Array(Elem::Prim(Prim::Int32)) => {
                if f.optional {
                    pick(
                        &format!("write_nullable_int32s(buf, {a}.as_deref(), {c})?;"),
                        &format!("write_int32s(buf, {a}.as_deref().{null_err}, {c})?;"),
                        &nullable,
                    )
                } else {
                    format!("write_int32s(buf, &{a}, {c})?;")
                }
            }
            FieldType::Array(e) => {
                let elem = self.write_elem(e, &c);
                if f.optional {
                    pick(
                        &format!("write_nullable_array(buf, {a}.as_deref(), {c}, {elem})?;"),
                        &format!("write_array(buf, {a}.as_deref().{null_err}, {c}, {elem})?;"),
                        &nullable,
                    )
                } else {
                    format!("write_array(buf, &{a}, {c}, {elem})?;")
                }
            }
            FieldType::Struct(_) => {
                let v = self.version();
                if f.optional {
                    pick(
                        &format!(
                            "match &{a} {{ Some(v) => {{ buf.put_i8(1); v.encode(buf, {v})?; }} None => buf.put_i8(-1), }}"
                        ),
                        &format!("{a}.as_ref().{null_err}.encode(buf, {v})?;"),
                        &nullable,
                    )
                } else {
                    format!("{a}.encode(buf, {v})?;")
                }
            }
        }
    }

    fn write_elem(&mut self, e: &Elem, c: &str) -> String {
        match e {
            Elem::Prim(Prim::Bool) => "|buf, v| { write_bool(buf, *v); Ok(()) }".into(),
            Elem::Prim(Prim::Uuid) => "|buf, v| { write_uuid(buf, v); Ok(()) }".into(),
            Elem::Prim(Prim::String) => format!("|buf, v| write_string(buf, v, {c})"),
            Elem::Prim(Prim::Bytes | Prim::Records) => format!("|buf, v| write_bytes(buf, v, {c})"),
            Elem::Prim(p) => format!("|buf, v| {{ buf.put_{}(*v); Ok(()) }}", p.rust()),
            Elem::Struct(_) => format!("|buf, v| v.encode(buf, {})", self.version()),
        }
    }

    /// A statement reading the field from `b` into `place`, for fields
    /// decoded in place: non-nullable `[]int32` arrays and structs. Built in
    /// place, a value is not copied through a temporary (whose narrow
    /// stores, read back wide, stalled the CPU's store forwarding).
    fn read_into(&mut self, f: &Field, b: &str, universe: VSet, place: &str) -> Option<String> {
        if f.optional {
            return None;
        }
        match &f.ty {
            FieldType::Array(Elem::Prim(Prim::Int32)) => {
                let c = self.compact(f, universe);
                let name = self.field_name(f);
                Some(format!(
                    "read_int32s_into({b}, {c}, {name:?}, &mut {place})?;"
                ))
            }
            FieldType::Struct(n) => {
                let v = self.version();
                Some(format!("{n}::decode_in_place(&mut {place}, {b}, {v})?;"))
            }
            _ => None,
        }
    }

    /// An expression reading the field from `b`, for the versions of `universe`.
    fn read(&mut self, f: &Field, b: &str, universe: VSet) -> String {
        let c = self.compact(f, universe);
        let name = self.field_name(f);
        let nullable = if f.optional {
            self.cond(f.nullable_set, universe)
        } else {
            Cond::Never
        };
        let pick = |always_null: String, never_null: String, nullable: &Cond| -> String {
            match nullable {
                Cond::Always => always_null,
                Cond::Never => format!("Some({never_null})"),
                Cond::Expr(e) => {
                    format!("if {e} {{ {always_null} }} else {{ Some({never_null}) }}")
                }
            }
        };
        match &f.ty {
            FieldType::Prim(p) => match p {
                Prim::String | Prim::Bytes | Prim::Records => {
                    let kind = if *p == Prim::String {
                        "string"
                    } else {
                        "bytes"
                    };
                    let plain = format!("read_{kind}({b}, {c}, {name:?})?");
                    if f.optional {
                        pick(format!("read_nullable_{kind}({b}, {c})?"), plain, &nullable)
                    } else {
                        plain
                    }
                }
                _ => format!("read_{}({b})?", prim_reader(*p)),
            },
            FieldType::Array(Elem::Prim(Prim::Int32)) => {
                let plain = format!("read_int32s({b}, {c}, {name:?})?");
                if f.optional {
                    pick(format!("read_nullable_int32s({b}, {c})?"), plain, &nullable)
                } else {
                    plain
                }
            }
            FieldType::Array(Elem::Struct(_)) => {
                let v = self.version();
                let plain = format!("read_struct_array({b}, {c}, {name:?}, {v})?");
                if f.optional {
                    pick(
                        format!("read_nullable_struct_array({b}, {c}, {v})?"),
                        plain,
                        &nullable,
                    )
                } else {
                    plain
                }
            }
            FieldType::Array(Elem::Prim(p)) => {
                let elem = read_elem(*p, &c, &name);
                let plain = format!("read_array({b}, {c}, {name:?}, {elem})?");
                if f.optional {
                    pick(
                        format!("read_nullable_array({b}, {c}, {elem})?"),
                        plain,
                        &nullable,
                    )
                } else {
                    plain
                }
            }
            FieldType::Struct(n) => {
                let v = self.version();
                let plain = format!("{n}::decode({b}, {v})?");
                if f.optional {
                    pick(
                        format!("if read_struct_marker({b})? {{ Some({plain}) }} else {{ None }}"),
                        plain.clone(),
                        &nullable,
                    )
                } else {
                    plain
                }
            }
        }
    }

    fn flexible_decl(&self) -> String {
        match Cond::of(self.msg.flexible_set, self.msg.all) {
            Cond::Expr(e) if self.uses_flexible => format!("let flexible = {e};\n"),
            _ => String::new(),
        }
    }

    /// The flexible test of the tagged section (the version var is used).
    fn flexible_test(&mut self) -> Cond {
        let c = Cond::of(self.msg.flexible_set, self.msg.all);
        if matches!(c, Cond::Expr(_)) {
            self.uses_flexible = true;
            self.uses_version = true;
        }
        c
    }
}

fn prim_reader(p: Prim) -> &'static str {
    match p {
        Prim::Bool => "bool",
        Prim::Int8 => "i8",
        Prim::Int16 => "i16",
        Prim::Uint16 => "u16",
        Prim::Int32 => "i32",
        Prim::Uint32 => "u32",
        Prim::Int64 => "i64",
        Prim::Float64 => "f64",
        Prim::Uuid => "uuid",
        Prim::String => "string",
        Prim::Bytes | Prim::Records => "bytes",
    }
}

fn has_tagged_section(msg: &Message) -> bool {
    !msg.flexible_set.is_empty()
}

/// The element reader of an array of primitives (struct elements are
/// decoded in place by `read_struct_array`).
fn read_elem(p: Prim, c: &str, name: &str) -> String {
    match p {
        Prim::String => format!("|buf| read_string(buf, {c}, {name:?})"),
        Prim::Bytes | Prim::Records => format!("|buf| read_bytes(buf, {c}, {name:?})"),
        p => format!("read_{}", prim_reader(p)),
    }
}

/// `impl Encode` for one struct.
pub fn encode_impl(msg: &Message, s: &Struct) -> String {
    let mut b = Body::new(msg, s);
    let all = msg.all;
    let mut code = String::new();
    for f in &s.fields {
        let absent = all.minus(f.present);
        let check_absent = !f.ignorable && !absent.is_empty();
        let nd = non_default(f, &format!("self.{}", f.ident));
        let name = b.field_name(f);
        let err = |b: &mut Body| {
            let v = b.version();
            format!("return Err(EncodeError::FieldNotInVersion {{ field: {name:?}, {v} }});")
        };
        let tagged = !f.tagged_set.is_empty();
        match b.cond(f.body, all) {
            Cond::Always => code.push_str(&b.write(f, f.body)),
            Cond::Never => {}
            Cond::Expr(e) => {
                let w = b.write(f, f.body);
                if check_absent && !tagged {
                    let err = err(&mut b);
                    let _ = write!(code, "if {e} {{ {w} }} else if {nd} {{ {err} }}");
                } else {
                    let _ = write!(code, "if {e} {{ {w} }}");
                }
            }
        }
        let merged = check_absent && !tagged && !f.body.is_empty();
        if check_absent && !merged {
            let err = err(&mut b);
            match b.cond(absent, all) {
                Cond::Always => {
                    let _ = write!(code, "if {nd} {{ {err} }}");
                }
                Cond::Never => {}
                Cond::Expr(e) => {
                    let _ = write!(code, "if {e} && {nd} {{ {err} }}");
                }
            }
        }
        code.push('\n');
    }
    if has_tagged_section(msg) {
        let tagged = s.tagged_fields();
        let mut inner = String::new();
        if tagged.is_empty() {
            inner.push_str("write_unknown_tagged_fields(buf, &self.unknown_tagged_fields);");
        } else {
            inner.push_str("let mut tagged = Vec::new();\n");
            for f in tagged {
                let tag = f.tagged.map_or(0, |t| t.0);
                let nd = non_default(f, &format!("self.{}", f.ident));
                let w = b.write(f, f.tagged_set);
                // a single fallible write is the closure's value
                let closure = match w.strip_suffix("?;") {
                    Some(expr) if !expr.contains(';') => format!("|buf| {expr}"),
                    _ => format!("|buf| {{ {w} Ok(()) }}"),
                };
                let push = format!("tagged.push(encode_tagged_value({tag}, {closure})?);");
                match b.cond(f.tagged_set, msg.flexible_set) {
                    Cond::Expr(e) => {
                        let _ = writeln!(inner, "if {e} && {nd} {{ {push} }}");
                    }
                    _ => {
                        let _ = writeln!(inner, "if {nd} {{ {push} }}");
                    }
                }
            }
            inner.push_str("write_tagged_fields(buf, tagged, &self.unknown_tagged_fields);");
        }
        b.uses_buf = true;
        match b.flexible_test() {
            Cond::Always => code.push_str(&inner),
            _ => {
                let _ = write!(
                    code,
                    "if flexible {{ {inner} }} else if !self.unknown_tagged_fields.is_empty() {{ \
                     return Err(EncodeError::FieldNotInVersion {{ field: \"{}.unknown_tagged_fields\", version }}); }}",
                    s.name
                );
            }
        }
        code.push('\n');
    }
    code.push_str("Ok(())");
    let mut body = String::new();
    if s.top {
        b.uses_version = true;
        body.push_str(
            "if !Self::VERSIONS.contains(version) {\n\
             return Err(EncodeError::UnsupportedVersion { message: Self::NAME, version });\n}\n",
        );
    }
    if s.top && b.uses_buf {
        // A message writes through its buffer's sink, a local whose
        // length can live in a register while the fields are written.
        body.push_str("let buf = &mut buf.sink();\n");
    }
    body.push_str(&b.flexible_decl());
    body.push_str(&code);
    let buf = if b.uses_buf { "buf" } else { "_buf" };
    let version = if b.uses_version {
        "version"
    } else {
        "_version"
    };
    let inline = if s.top { "" } else { "#[inline]\n" };
    format!(
        "impl Encode for {} {{\n{inline}fn encode<B: WireBuf>(&self, {buf}: &mut B, {version}: i16) -> EncodeResult<()> {{\n{body}\n}}\n}}\n",
        s.name
    )
}

/// `impl Decode` for one struct. Its fields are decoded in place into a
/// default value (`decode_in_place`), and arrays of structs decode each
/// element in its slot: moving freshly built values through temporaries
/// cost store-forwarding stalls that were most of a Metadata decode's time.
pub fn decode_impl(msg: &Message, s: &Struct) -> String {
    let mut b = Body::new(msg, s);
    let all = msg.all;
    let mut code = String::new();
    for f in &s.fields {
        let place = format!("this.{}", f.ident);
        let only_if = match b.cond(f.body, all) {
            Cond::Never => continue,
            Cond::Always => None,
            Cond::Expr(e) => Some(e),
        };
        let buf = b.buf();
        let statement = match b.read_into(f, buf, f.body, &place) {
            Some(statement) => statement,
            None => format!("{place} = {};", b.read(f, buf, f.body)),
        };
        match only_if {
            None => {
                let _ = writeln!(code, "{statement}");
            }
            Some(e) => {
                let _ = writeln!(code, "if {e} {{ {statement} }}");
            }
        }
    }
    if has_tagged_section(msg) {
        b.uses_buf = true;
        let tagged = s.tagged_fields();
        let known = if tagged.is_empty() {
            "|_, _| Ok(false)".to_string()
        } else {
            let mut arms = String::new();
            for f in tagged {
                let tag = f.tagged.map_or(0, |t| t.0);
                let place = format!("this.{}", f.ident);
                let r = b.read(f, "data", f.tagged_set);
                match b.cond(f.tagged_set, msg.flexible_set) {
                    Cond::Expr(e) => {
                        let _ = writeln!(arms, "{tag} if {e} => {place} = {r},");
                    }
                    _ => {
                        let _ = writeln!(arms, "{tag} => {place} = {r},");
                    }
                }
            }
            format!(
                "|tag, data| {{\n match tag {{\n{arms} _ => return Ok(false),\n}}\n\
                 if data.is_empty() {{ Ok(true) }} else {{ Err(DecodeError::TrailingBytes(data.len())) }}\n}}"
            )
        };
        let section =
            format!("read_tagged_fields_into(buf, {known}, &mut this.unknown_tagged_fields)?;");
        match b.flexible_test() {
            Cond::Always => {
                let _ = writeln!(code, "{section}");
            }
            _ => {
                let _ = writeln!(code, "if flexible {{ {section} }}");
            }
        }
    }
    code.push_str("Ok(())");
    let mut body = String::new();
    if s.top {
        b.uses_version = true;
        body.push_str(
            "if !Self::VERSIONS.contains(version) {\n\
             return Err(DecodeError::UnsupportedVersion { message: Self::NAME, version });\n}\n",
        );
    }
    body.push_str(&b.flexible_decl());
    body.push_str(&code);
    let buf = if b.uses_buf { "buf" } else { "_buf" };
    let version = if b.uses_version {
        "version"
    } else {
        "_version"
    };
    let this = if code.contains("this.") {
        "this"
    } else {
        "_this"
    };
    let inline = if s.top { "" } else { "#[inline]\n" };
    format!(
        "impl Decode for {name} {{\n\
         #[inline]\n\
         fn decode(buf: &mut Bytes, version: i16) -> DecodeResult<Self> {{\n\
         let mut this = Self::default();\n\
         Self::decode_in_place(&mut this, buf, version)?;\n\
         Ok(this)\n}}\n\
         {inline}\
         fn decode_in_place({this}: &mut Self, {buf}: &mut Bytes, {version}: i16) -> DecodeResult<()> {{\n{body}\n}}\n}}\n",
        name = s.name
    )
}
