//! The protobuf wire format, and the table-driven walk that turns one message
//! into its Kubernetes JSON form.
//!
//! Only what Kubernetes' gogo-generated code emits is accepted: varint,
//! 64-bit, length-delimited and 32-bit records. Groups (wire types 3 and 4)
//! are rejected, as proto2 Kubernetes types never use them. Error texts follow
//! gogo's generated `Unmarshal` (`proto: wrong wireType = 0 for field name`,
//! `unexpected EOF`, ...), with the JSON path of the offending field added.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::schema::{Card, Field, Message, Ty};

/// One record's payload; the field number travels beside it.
#[derive(Debug, Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64,
    Len(&'a [u8]),
    Fixed32,
}

impl Wire<'_> {
    fn type_number(self) -> u8 {
        match self {
            Wire::Varint(_) => 0,
            Wire::Fixed64 => 1,
            Wire::Len(_) => 2,
            Wire::Fixed32 => 5,
        }
    }
}

/// A cursor over one message's bytes. Every read is bounds-checked, so no
/// input can make it panic.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        for (i, byte) in self.buf.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.buf = self.buf.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        Err(if self.buf.len() < 10 {
            "unexpected EOF".to_owned()
        } else {
            "proto: integer overflow".to_owned()
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err("unexpected EOF".to_owned());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// The next `(field number, payload)`, or `None` at the end of the message.
    fn next(&mut self) -> Option<Result<(u64, Wire<'a>), String>> {
        if self.buf.is_empty() {
            return None;
        }
        Some(self.record())
    }

    fn record(&mut self) -> Result<(u64, Wire<'a>), String> {
        let key = self.varint()?;
        let (num, wire_type) = (key >> 3, key & 7);
        if num == 0 {
            return Err(format!("proto: illegal tag 0 (wire type {wire_type})"));
        }
        let wire = match wire_type {
            0 => Wire::Varint(self.varint()?),
            1 => self.take(8).map(|_| Wire::Fixed64)?,
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len)
                    .map_err(|_| "proto: negative length found during unmarshaling")?;
                Wire::Len(self.take(len)?)
            }
            5 => self.take(4).map(|_| Wire::Fixed32)?,
            other => return Err(format!("proto: illegal wireType {other}")),
        };
        Ok((num, wire))
    }
}

/// Walks messages against their tables, collecting the paths of fields the
/// tables do not know (skipped, as protobuf semantics require).
#[derive(Debug, Default)]
pub(super) struct Decoder {
    pub(super) unknown_fields: Vec<String>,
}

/// `parent.child`, or `child` at the root.
fn join(path: &str, child: &str) -> String {
    if path.is_empty() {
        child.to_owned()
    } else {
        format!("{path}.{child}")
    }
}

fn wrong_wire_type(wire: Wire<'_>, field: &Field, path: &str) -> String {
    format!(
        "proto: wrong wireType = {} for field {} (at {})",
        wire.type_number(),
        field.json,
        join(path, field.json)
    )
}

fn string(bytes: &[u8]) -> Value {
    // Go keeps proto2 strings as raw bytes and its JSON encoder replaces
    // invalid UTF-8 with U+FFFD; lossy conversion gives the same JSON.
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

impl Decoder {
    /// Decodes `buf` as one `msg` into the JSON object Kubernetes would
    /// serialize. `path` is the JSON path of the message, for diagnostics.
    pub(super) fn message(
        &mut self,
        buf: &[u8],
        msg: &'static Message,
        path: &str,
    ) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        let mut reader = Reader { buf };
        while let Some(record) = reader.next() {
            let (num, wire) = record.map_err(|e| match path {
                "" => format!("{e} (in {})", msg.name),
                _ => format!("{e} (in {} at {path})", msg.name),
            })?;
            match msg.fields.iter().find(|f| u64::from(f.num) == num) {
                Some(field) => self.field(&mut out, field, wire, path)?,
                None => self.unknown_fields.push(format!(
                    "{}: field number {num} of {} is not decoded by the simulator and was dropped",
                    if path.is_empty() { "<root>" } else { path },
                    msg.name
                )),
            }
        }
        for field in msg.fields {
            if matches!(field.card, Card::Req | Card::RepReq)
                && !out.contains_key(field.json)
                && let Some(zero) = self.zero(field, path)?
            {
                out.insert(field.json.to_owned(), zero);
            }
        }
        Ok(out)
    }

    /// What Go's JSON encoder writes for a field without `omitempty` that the
    /// body did not carry (`None` for embedded structs, which have no key).
    fn zero(&mut self, field: &Field, path: &str) -> Result<Option<Value>, String> {
        if field.card == Card::RepReq {
            return Ok(Some(Value::Null));
        }
        Ok(Some(match field.ty {
            Ty::Str => Value::String(String::new()),
            Ty::Bool => Value::Bool(false),
            Ty::I32 | Ty::I64 => Value::from(0),
            Ty::Bytes | Ty::Time | Ty::Map(_) => Value::Null,
            Ty::Quantity => Value::String("0".to_owned()),
            Ty::IntOrString => Value::from(0),
            Ty::Msg(sub) => Value::Object(self.message(&[], sub, &join(path, field.json))?),
            Ty::Inline(_) => return Ok(None),
        }))
    }

    fn field(
        &mut self,
        out: &mut Map<String, Value>,
        field: &'static Field,
        wire: Wire<'_>,
        path: &str,
    ) -> Result<(), String> {
        let repeated = matches!(field.card, Card::Rep | Card::RepReq);
        // Repeated numbers may come packed (one length-delimited run).
        if let (true, Ty::I32 | Ty::I64 | Ty::Bool, Wire::Len(run)) = (repeated, field.ty, wire) {
            let mut reader = Reader { buf: run };
            while !reader.buf.is_empty() {
                let n = reader
                    .varint()
                    .map_err(|e| format!("{e} (at {})", join(path, field.json)))?;
                self.field(out, field, Wire::Varint(n), path)?;
            }
            return Ok(());
        }
        let here = if repeated {
            let index = out
                .get(field.json)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("{}[{index}]", join(path, field.json))
        } else {
            join(path, field.json)
        };
        let value = match (field.ty, wire) {
            (Ty::Map(value_ty), Wire::Len(entry)) => {
                let (key, value) = self.map_entry(entry, value_ty, &here)?;
                let map = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
                return Ok(());
            }
            (Ty::Inline(sub), Wire::Len(bytes)) => {
                // Go embeds these structs with `json:",inline"`: their keys
                // land in the parent object.
                out.extend(self.message(bytes, sub, path)?);
                return Ok(());
            }
            (ty, wire) => match self.scalar(ty, wire, &here)? {
                Some(value) => value,
                None => return Err(wrong_wire_type(wire, field, path)),
            },
        };
        if repeated {
            let list = out
                .entry(field.json)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(value);
            }
        } else if field.card != Card::Omit || !is_empty(&value) || !field.ty.is_scalar() {
            // Later occurrences win, as in protobuf; repeated embedded
            // messages merge.
            match (out.get_mut(field.json), value) {
                (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                (_, value) => {
                    out.insert(field.json.to_owned(), value);
                }
            }
        } else {
            out.remove(field.json);
        }
        Ok(())
    }

    /// Decodes one non-map value; `None` when the wire type does not fit.
    fn scalar(&mut self, ty: Ty, wire: Wire<'_>, here: &str) -> Result<Option<Value>, String> {
        Ok(Some(match (ty, wire) {
            (Ty::Str, Wire::Len(b)) => string(b),
            (Ty::Bytes, Wire::Len(b)) => {
                Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            (Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
            // Truncation mirrors Go's `int32(v)` in the generated code.
            (Ty::I32, Wire::Varint(v)) => Value::from(v as i32),
            (Ty::I64, Wire::Varint(v)) => Value::from(v as i64),
            (Ty::Time, Wire::Len(b)) => time(b).map_err(|e| format!("{e} (at {here})"))?,
            (Ty::Quantity, Wire::Len(b)) => quantity(b).map_err(|e| format!("{e} (at {here})"))?,
            (Ty::IntOrString, Wire::Len(b)) => {
                int_or_string(b).map_err(|e| format!("{e} (at {here})"))?
            }
            (Ty::Msg(sub), Wire::Len(b)) => Value::Object(self.message(b, sub, here)?),
            _ => return Ok(None),
        }))
    }

    /// A `map<string, V>` entry: a message with key 1 and value 2.
    fn map_entry(
        &mut self,
        entry: &[u8],
        value_ty: &Ty,
        here: &str,
    ) -> Result<(String, Value), String> {
        let (mut key, mut value) = (String::new(), None);
        let mut reader = Reader { buf: entry };
        while let Some(record) = reader.next() {
            match record.map_err(|e| format!("{e} (in a map entry at {here})"))? {
                (1, Wire::Len(b)) => key = String::from_utf8_lossy(b).into_owned(),
                (2, wire) => {
                    value = self.scalar(*value_ty, wire, here)?;
                    if value.is_none() {
                        return Err(format!(
                            "proto: wrong wireType = {} for a map value (at {here})",
                            wire.type_number()
                        ));
                    }
                }
                (1, wire) => {
                    return Err(format!(
                        "proto: wrong wireType = {} for a map key (at {here})",
                        wire.type_number()
                    ));
                }
                _ => {}
            }
        }
        let value = match value {
            Some(v) => v,
            None => self
                .scalar(*value_ty, Wire::Len(&[]), here)?
                .unwrap_or(Value::Null),
        };
        Ok((key, value))
    }
}

/// Go's `omitempty` test for the scalar kinds.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

/// Reads the int64 fields 1 and 2 of a tiny message (Time, IntOrString).
fn small_fields(buf: &[u8]) -> Result<(i64, i64, Option<&[u8]>), String> {
    let (mut one, mut two, mut three) = (0, 0, None);
    let mut reader = Reader { buf };
    while let Some(record) = reader.next() {
        match record? {
            (1, Wire::Varint(v)) => one = v as i64,
            (2, Wire::Varint(v)) => two = v as i64,
            (3, Wire::Len(b)) => three = Some(b),
            (1..=3, wire) => {
                return Err(format!("proto: wrong wireType = {}", wire.type_number()));
            }
            _ => {}
        }
    }
    Ok((one, two, three))
}

/// `metav1.Time` {seconds, nanos}: RFC 3339 at second precision, as Go's
/// `Time.MarshalJSON` writes it; the zero time is JSON `null`.
fn time(buf: &[u8]) -> Result<Value, String> {
    let (seconds, nanos, _) = small_fields(buf)?;
    if seconds == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let ts = jiff::Timestamp::from_second(seconds)
        .map_err(|_| format!("time {seconds}s is out of range"))?;
    Ok(Value::String(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

/// `resource.Quantity` is `{1: string}`; JSON carries the string ("0" when empty).
fn quantity(buf: &[u8]) -> Result<Value, String> {
    let mut reader = Reader { buf };
    let mut text = "0".to_owned();
    while let Some(record) = reader.next() {
        match record? {
            (1, Wire::Len(b)) if !b.is_empty() => text = String::from_utf8_lossy(b).into_owned(),
            (1, Wire::Len(_)) => {}
            (1, wire) => return Err(format!("proto: wrong wireType = {}", wire.type_number())),
            _ => {}
        }
    }
    Ok(Value::String(text))
}

/// `intstr.IntOrString` {type, intVal, strVal}: a JSON number or string.
fn int_or_string(buf: &[u8]) -> Result<Value, String> {
    let (kind, int_val, str_val) = small_fields(buf)?;
    Ok(match kind {
        1 => string(str_val.unwrap_or_default()),
        _ => Value::from(int_val as i32),
    })
}

/// The parts of a `runtime.Unknown` envelope the decoder needs.
#[derive(Debug, Default)]
pub(super) struct Envelope<'a> {
    pub(super) api_version: String,
    pub(super) kind: String,
    /// The object's own encoding.
    pub(super) raw: &'a [u8],
    pub(super) content_encoding: String,
}

/// Reads `runtime.Unknown`: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw,
/// 3 contentEncoding, 4 contentType (ignored, as the API server does).
pub(super) fn envelope(buf: &[u8]) -> Result<Envelope<'_>, String> {
    let mut out = Envelope::default();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut reader = Reader { buf };
    while let Some(record) = reader.next() {
        match record? {
            (1, Wire::Len(type_meta)) => {
                let mut inner = Reader { buf: type_meta };
                while let Some(record) = inner.next() {
                    match record.map_err(|e| format!("{e} (in typeMeta)"))? {
                        (1, Wire::Len(b)) => out.api_version = text(b),
                        (2, Wire::Len(b)) => out.kind = text(b),
                        (1 | 2, wire) => return Err(wrong_wire(wire, "typeMeta")),
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(b)) => out.raw = b,
            (3, Wire::Len(b)) => out.content_encoding = text(b),
            (4, Wire::Len(_)) => {}
            (1..=4, wire) => return Err(wrong_wire(wire, "runtime.Unknown")),
            _ => {}
        }
    }
    Ok(out)
}

fn wrong_wire(wire: Wire<'_>, what: &str) -> String {
    format!("proto: wrong wireType = {} in {what}", wire.type_number())
}
