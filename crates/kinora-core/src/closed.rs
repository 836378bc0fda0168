//! Closed sets of strings as types. [`closed_set!`](crate::closed_set) declares an
//! enum whose variants are each spelled once, with the string they stand for; it
//! derives the rest: `as_str`, `parse`, `ALL`, `Display`, `FromStr`, and serde
//! (de)serialization as that string. A value that is not in the set does not parse,
//! and a new variant cannot be forgotten in one of three hand-written matches.

/// The error of `FromStr` (and of deserializing) a value outside a closed set: the
/// value, and what the set holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of {allowed}")]
pub struct NotInSet {
    pub value: String,
    pub allowed: String,
}

/// Declares a closed set of strings as an enum:
///
/// ```
/// kinora_core::closed_set! {
///     /// Which way.
///     pub enum Way { Up = "up", Down = "down" }
/// }
/// assert_eq!(Way::parse("up"), Some(Way::Up));
/// assert_eq!(Way::Down.as_str(), "down");
/// assert_eq!(Way::ALL.len(), 2);
/// assert_eq!(serde_json::to_string(&Way::Up).unwrap(), "\"up\"");
/// ```
#[macro_export]
macro_rules! closed_set {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vm])* $var),+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The string this member stands for.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$var => $s),+
                }
            }

            /// The member `s` stands for, if any.
            pub fn parse(s: &str) -> ::core::option::Option<$name> {
                match s {
                    $($s => ::core::option::Option::Some($name::$var),)+
                    _ => ::core::option::Option::None,
                }
            }

            /// The members' strings, comma-separated (for error messages).
            pub fn allowed() -> ::std::string::String {
                $name::ALL.iter().map(|m| m.as_str()).collect::<::std::vec::Vec<_>>().join(", ")
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::closed::NotInSet;

            fn from_str(s: &str) -> ::core::result::Result<$name, $crate::closed::NotInSet> {
                $name::parse(s).ok_or_else(|| $crate::closed::NotInSet { value: s.into(), allowed: $name::allowed() })
            }
        }

        impl $crate::closed::__serde::Serialize for $name {
            fn serialize<S: $crate::closed::__serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::closed::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::closed::__serde::Deserializer<'de>>(d: D) -> ::core::result::Result<$name, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as $crate::closed::__serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(<D::Error as $crate::closed::__serde::de::Error>::custom)
            }
        }
    };
}

#[doc(hidden)]
pub use serde as __serde;

#[cfg(test)]
mod tests {
    crate::closed_set! {
        enum Colour { Red = "red", DarkBlue = "dark-blue" }
    }

    #[test]
    fn each_member_round_trips_and_nothing_else_parses() {
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(*c));
            assert_eq!(c.to_string(), c.as_str());
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(serde_json::from_str::<Colour>(&json).unwrap(), *c);
        }
        assert_eq!(Colour::parse("Red"), None);
        assert_eq!(Colour::parse(""), None);
        let e = "blue".parse::<Colour>().unwrap_err();
        assert_eq!(e.to_string(), "\"blue\" is not one of red, dark-blue");
        assert!(serde_json::from_str::<Colour>("\"blue\"").unwrap_err().to_string().contains("not one of red, dark-blue"));
    }
}
