//! proptest strategies (`arbitrary_for_version`) for every struct, behind the
//! protocol crate's `arbitrary` feature.

use super::types::{default_expr, elem_type};
use crate::ir::{Cond, Elem, Field, FieldType, Message, Prim, Struct, VSet};
use std::fmt::Write as _;

fn cond_text(c: &Cond) -> Option<&str> {
    match c {
        Cond::Expr(e) => Some(e.as_str()),
        _ => None,
    }
}

fn prim_strategy(p: Prim) -> String {
    match p {
        Prim::Float64 => "arb_f64()".into(),
        Prim::Uuid => "arb_uuid()".into(),
        Prim::String => "arb_string()".into(),
        Prim::Bytes | Prim::Records => "arb_bytes()".into(),
        _ => format!("any::<{}>().boxed()", p.rust()),
    }
}

/// The strategy of a present value (ignoring nullability).
fn base_strategy(ty: &FieldType) -> String {
    match ty {
        FieldType::Prim(p) => prim_strategy(*p),
        FieldType::Array(Elem::Prim(Prim::Int32)) => "arb_int32_list()".into(),
        FieldType::Array(e) => {
            let inner = match e {
                Elem::Prim(p) => prim_strategy(*p),
                Elem::Struct(_) => format!("{}::arbitrary_for_version(version)", elem_type(e)),
            };
            format!("arb_vec({inner})")
        }
        FieldType::Struct(n) => format!("{n}::arbitrary_for_version(version)"),
    }
}

/// `Option` wrapping for the versions of `universe`.
fn value_strategy(f: &Field, universe: VSet) -> String {
    let base = base_strategy(&f.ty);
    if !f.optional {
        return base;
    }
    match Cond::of(f.nullable_set, universe) {
        Cond::Always => format!("arb_nullable(true, {base})"),
        Cond::Never => format!("arb_nullable(false, {base})"),
        Cond::Expr(e) => format!("arb_nullable({e}, {base})"),
    }
}

fn field_strategy(msg: &Message, f: &Field) -> String {
    let default = default_expr(f);
    let just = format!("Just({default}).boxed()");
    let present = Cond::of(f.present, msg.all);
    if matches!(present, Cond::Never) {
        return just;
    }
    let value = value_strategy(f, f.present);
    let value = match Cond::of(f.tagged_set, f.present) {
        Cond::Never => value,
        Cond::Always => format!("arb_tagged({default}, {value})"),
        Cond::Expr(e) => format!("if {e} {{ arb_tagged({default}, {value}) }} else {{ {value} }}"),
    };
    match cond_text(&present) {
        None => value,
        Some(e) => format!("if {e} {{ {value} }} else {{ {just} }}"),
    }
}

/// The `impl` block with `arbitrary_for_version` for one struct.
pub fn arbitrary_impl(msg: &Message, s: &Struct) -> String {
    let flexible_fields = !msg.flexible_set.is_empty();
    let mut lets = String::new();
    let mut strategies = Vec::new();
    let mut bindings = Vec::new();
    let mut inits = Vec::new();
    for f in &s.fields {
        let bare = crate::names::bare(&f.ident);
        let _ = writeln!(lets, "let s_{bare} = {};", field_strategy(msg, f));
        strategies.push(format!("s_{bare}"));
        bindings.push(format!("f_{bare}"));
        inits.push(format!("{}: f_{bare}", f.ident));
    }
    // proptest implements Strategy for tuples of up to 12 elements: group the
    // fields by 10.
    let group = |items: &[String]| -> Vec<String> {
        items
            .chunks(10)
            .map(|c| {
                if c.len() == 1 {
                    format!("({},)", c[0])
                } else {
                    format!("({})", c.join(", "))
                }
            })
            .collect()
    };
    let mut tuple = group(&strategies);
    let mut pattern = group(&bindings);
    if flexible_fields {
        let flex = match Cond::of(msg.flexible_set, msg.all) {
            Cond::Always => "true".to_string(),
            Cond::Never => "false".to_string(),
            Cond::Expr(e) => e,
        };
        tuple.push(format!("arb_unknown_tagged({flex})"));
        pattern.push("unknown_tagged_fields".into());
        inits.push("unknown_tagged_fields".into());
    }
    let uses_version =
        super::uses_word(&lets, "version") || tuple.iter().any(|t| super::uses_word(t, "version"));
    let param = if uses_version { "version" } else { "_version" };
    let body = if tuple.is_empty() {
        "Just(Self::default()).boxed()".to_string()
    } else {
        let (t, p) = if tuple.len() == 1 {
            (tuple[0].clone(), pattern[0].clone())
        } else {
            (
                format!("({})", tuple.join(", ")),
                format!("({})", pattern.join(", ")),
            )
        };
        format!(
            "{lets}{t}.prop_map(|{p}| Self {{ {} }}).boxed()",
            inits.join(", ")
        )
    };
    format!(
        "impl {name} {{\n/// A proptest strategy of values valid at `version`.\n\
         pub fn arbitrary_for_version({param}: i16) -> BoxedStrategy<Self> {{\n{body}\n}}\n}}\n",
        name = s.name
    )
}
