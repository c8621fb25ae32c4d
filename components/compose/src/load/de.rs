//! The value shapes of the compose format that serde's derive cannot express, each a small
//! `Deserialize`: a scalar read as text, a boolean that may be a string, a list and a
//! mapping (named so in messages, not "sequence" and "map"), the short/long and
//! list/mapping alternatives, and the `x-` extension keys.
//!
//! The alternatives are visitors, not `#[serde(untagged)]` enums: an untagged enum tries
//! each variant on a buffered copy and reports only "did not match any variant", so an
//! error inside the long syntax (an unsupported key, a missing `target`) would lose its
//! message and its key path. A visitor hands the mapping or list on as it is, and
//! `serde_path_to_error` keeps tracking the path through it.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::syntax::shell_split;

/// The start of the message of an unsupported key, as [`Extensions`] raises it; the
/// loader turns it into [`crate::ComposeError::Unsupported`] naming the key path.
pub(super) const UNSUPPORTED: &str = "unsupported key `";

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Other("null"),
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => de::Unexpected::Unsigned(u),
            (_, Some(i), _) => de::Unexpected::Signed(i),
            (_, _, Some(f)) => de::Unexpected::Float(f),
            _ => de::Unexpected::Other("number"),
        },
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

/// A scalar as text: a string, a number as the file wrote it (`1.0` stays `1.0`), or a
/// boolean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Scalar(s)),
            Value::Number(n) => Ok(Scalar(n.to_string())),
            Value::Bool(b) => Ok(Scalar(b.to_string())),
            other => Err(de::Error::invalid_type(unexpected(&other), &"a string")),
        }
    }
}

/// A boolean: `true`/`false`, or the same as a string (what interpolation leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expected = &"true or false";
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(Flag(b)),
            Value::String(s) if s == "true" => Ok(Flag(true)),
            Value::String(s) if s == "false" => Ok(Flag(false)),
            Value::String(s) => Err(de::Error::invalid_value(de::Unexpected::Str(&s), expected)),
            other => Err(de::Error::invalid_type(unexpected(&other), expected)),
        }
    }
}

/// An optional [`Flag`] as a plain `bool` with a default.
pub(super) fn flag_or(v: Option<Flag>, default: bool) -> bool {
    v.map_or(default, |f| f.0)
}

/// A list (serde's own `Vec` would say "expected a sequence").
#[derive(Debug)]
pub(super) struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(List)
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// A mapping of names (serde's own maps would say "expected a map").
#[derive(Debug)]
pub(super) struct Mapping<V>(pub IndexMap<String, V>);

impl<V> Default for Mapping<V> {
    fn default() -> Self {
        Mapping(IndexMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Mapping<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = Mapping<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IndexMap::deserialize(MapAccessDeserializer::new(map)).map(Mapping)
            }
        }
        d.deserialize_map(Vis(PhantomData))
    }
}

/// A value written either as a list or as a mapping (`environment`, `labels`,
/// `depends_on`, a service's `networks`).
#[derive(Debug)]
pub(super) enum ListOrMap<I, M> {
    List(Vec<I>),
    Map(M),
}

impl<'de, I: Deserialize<'de>, M: Deserialize<'de>> Deserialize<'de> for ListOrMap<I, M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<I, M>(PhantomData<(I, M)>);
        impl<'de, I: Deserialize<'de>, M: Deserialize<'de>> Visitor<'de> for V<I, M> {
            type Value = ListOrMap<I, M>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list or a mapping")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(ListOrMap::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                M::deserialize(MapAccessDeserializer::new(map)).map(ListOrMap::Map)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A value written either as a string (the short syntax) or as a mapping (the long one):
/// a port or a mount. A number counts as a string.
#[derive(Debug)]
pub(super) enum ShortOrLong<L> {
    Short(String),
    Long(L),
}

impl<'de, L: Deserialize<'de>> Deserialize<'de> for ShortOrLong<L> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<L>(PhantomData<L>);
        impl<'de, L: Deserialize<'de>> Visitor<'de> for V<L> {
            type Value = ShortOrLong<L>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a mapping")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ShortOrLong::Short(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ShortOrLong::Short(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ShortOrLong::Short(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                L::deserialize(MapAccessDeserializer::new(map)).map(ShortOrLong::Long)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A command: a string split into words as a POSIX shell would, or a list of words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Words(pub Vec<String>);

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match StringOrList::deserialize(d)? {
            StringOrList::String(s) => shell_split(&s).map(Words).map_err(de::Error::custom),
            StringOrList::List(words) => Ok(Words(words)),
        }
    }
}

/// A string, or a list of scalars (as text).
pub(super) enum StringOrList {
    String(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOrList::String(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let words: Vec<Scalar> = Vec::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(StringOrList::List(words.into_iter().map(|w| w.0).collect()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of a mapping that its struct has no field for. Compose allows `x-` keys in
/// every mapping of the format (they are ignored); any other key is refused as
/// unsupported. The structs flatten this: serde's `deny_unknown_fields` cannot make the
/// `x-` exception.
#[derive(Debug, Default)]
pub(super) struct Extensions;

impl<'de> Deserialize<'de> for Extensions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Extensions;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while let Some(key) = map.next_key::<String>()? {
                    if !key.starts_with("x-") {
                        return Err(de::Error::custom(format!("{UNSUPPORTED}{key}`")));
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(Extensions)
            }
        }
        d.deserialize_map(V)
    }
}
