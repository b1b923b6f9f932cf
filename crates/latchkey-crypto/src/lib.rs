#![doc = include_str!("../README.md")]

mod audit_chain;
mod envelope;
mod error;
mod keyring;
mod master_key;
mod password;
mod token;

pub use audit_chain::{ChainKey, GENESIS as AUDIT_GENESIS};
pub use envelope::{Envelope, RecordRef, ENVELOPE_VERSION};
pub use error::CryptoError;
pub use keyring::{DataKeyRecord, Keyring};
pub use master_key::MasterKey;
pub use password::{hash_password, verify_password};
pub use token::{generate_secret, hash_token};
