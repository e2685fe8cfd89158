//! Rust types, default values and default tests for fields.

use crate::ir::{DefaultValue, Elem, Field, FieldType, Prim};

/// The Rust element type of an array.
pub fn elem_type(e: &Elem) -> String {
    match e {
        Elem::Prim(p) => p.rust().to_string(),
        Elem::Struct(n) => n.clone(),
    }
}

/// The Rust type of a field, without the nullable `Option`.
pub fn base_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Prim(p) => p.rust().to_string(),
        FieldType::Array(Elem::Prim(Prim::Int32)) => "Int32List".into(),
        FieldType::Array(e) => format!("Vec<{}>", elem_type(e)),
        FieldType::Struct(n) => n.clone(),
    }
}

/// The Rust type of a field.
pub fn field_type(f: &Field) -> String {
    let base = base_type(&f.ty);
    if f.optional {
        format!("Option<{base}>")
    } else {
        base
    }
}

/// The default of the non-`Option` type.
fn base_default(f: &Field) -> String {
    match (&f.ty, &f.default) {
        (FieldType::Prim(p), d) => match (p, d) {
            (Prim::Bool, DefaultValue::Bool(b)) => b.to_string(),
            (Prim::Bool, _) => "false".into(),
            (Prim::Float64, DefaultValue::Float(v)) => v.clone(),
            (Prim::Float64, _) => "0.0".into(),
            (_, DefaultValue::Int(v)) => v.to_string(),
            (Prim::Uuid, _) => "Uuid::ZERO".into(),
            (Prim::String, DefaultValue::Str(s)) if !s.is_empty() => {
                format!("StrBytes::from_static({s:?})")
            }
            (Prim::String, _) => "StrBytes::default()".into(),
            (Prim::Bytes | Prim::Records, _) => "Bytes::new()".into(),
            _ => "0".into(),
        },
        (FieldType::Array(Elem::Prim(Prim::Int32)), _) => "Int32List::new()".into(),
        (FieldType::Array(_), _) => "Vec::new()".into(),
        (FieldType::Struct(n), _) => format!("{n}::default()"),
    }
}

/// The field's default value as an expression.
pub fn default_expr(f: &Field) -> String {
    if !f.optional {
        return base_default(f);
    }
    let is_records = f.ty == FieldType::Prim(Prim::Records);
    match f.default {
        DefaultValue::Null => "None".into(),
        DefaultValue::TypeDefault if is_records => "None".into(),
        _ => format!("Some({})", base_default(f)),
    }
}

/// An expression that is true when `access` (a place of the field's type)
/// differs from the field's default.
pub fn non_default(f: &Field, access: &str) -> String {
    if f.optional {
        let is_records = f.ty == FieldType::Prim(Prim::Records);
        if f.default == DefaultValue::Null || (is_records && f.default == DefaultValue::TypeDefault)
        {
            return format!("{access}.is_some()");
        }
        return match (&f.ty, &f.default) {
            (FieldType::Prim(Prim::String), DefaultValue::Str(s)) => {
                format!("{access}.as_deref() != Some({s:?})")
            }
            (FieldType::Prim(Prim::String), _) => format!("{access}.as_deref() != Some(\"\")"),
            (FieldType::Struct(n), _) => format!("{access}.as_ref() != Some(&{n}::default())"),
            _ => format!("!{access}.as_ref().is_some_and(|v| v.is_empty())"),
        };
    }
    match (&f.ty, &f.default) {
        (FieldType::Prim(Prim::Bool), DefaultValue::Bool(true)) => format!("!{access}"),
        (FieldType::Prim(Prim::Bool), _) => access.to_string(),
        (FieldType::Prim(Prim::Float64), _) => {
            format!("{access}.to_bits() != ({}f64).to_bits()", base_default(f))
        }
        (FieldType::Prim(Prim::Uuid), _) => format!("{access} != Uuid::ZERO"),
        (FieldType::Prim(Prim::String), DefaultValue::Str(s)) if !s.is_empty() => {
            format!("{access} != {s:?}")
        }
        (FieldType::Prim(Prim::String | Prim::Bytes), _) | (FieldType::Array(_), _) => {
            format!("!{access}.is_empty()")
        }
        (FieldType::Struct(n), _) => format!("{access} != {n}::default()"),
        (FieldType::Prim(_), _) => format!("{access} != {}", base_default(f)),
    }
}

/// The versions text used in doc comments.
pub fn field_doc(f: &Field) -> String {
    let mut parts = vec![format!("versions {}", f.versions)];
    if !f.nullable.is_empty() {
        parts.push(format!("nullable {}", f.nullable));
    }
    if let Some((tag, tv)) = f.tagged {
        parts.push(format!("tagged {tv} (tag {tag})"));
    }
    match &f.default {
        DefaultValue::TypeDefault => {}
        DefaultValue::Null => parts.push("default null".into()),
        DefaultValue::Int(v) => parts.push(format!("default {v}")),
        DefaultValue::Float(v) => parts.push(format!("default {v}")),
        DefaultValue::Bool(b) => parts.push(format!("default {b}")),
        DefaultValue::Str(s) => parts.push(format!("default {s:?}")),
    }
    if f.ignorable {
        parts.push("ignorable".into());
    }
    if let Some(set) = f.compact_override {
        if set.is_empty() {
            parts.push("never compact".into());
        }
    }
    format!("`{}`: {}.", f.spec_name, parts.join("; "))
}
