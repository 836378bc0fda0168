//! Kinora's domain vocabulary, with no IO.
//!
//! * Newtypes that can only be built by parsing untrusted input ([`Username`],
//!   [`Password`], [`Caption`], [`Visibility`], [`Id`]), so handlers never hold an
//!   unchecked value.
//! * [`policy`]: the one function that decides who may see a video. Every surface
//!   (JSON, media bytes, pages, feeds) asks it.
//! * [`ErrorCode`]: the stable, documented error codes of the API.
//! * [`closed_set!`]: every closed set of strings (statuses, kinds, roles) is an
//!   enum whose members are spelled once.

pub mod closed;
pub mod error;
pub mod moderation;
pub mod net;
pub mod policy;
pub mod redirect;
pub mod text;
pub mod types;

pub use error::ErrorCode;
pub use types::{Caption, Email, Id, Password, Username, VideoStatus, Visibility};
