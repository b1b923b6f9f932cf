#![doc = include_str!("../README.md")]

pub mod access;
pub mod account;
pub mod app;
pub mod connect;
pub mod error;
pub mod ids;
pub mod role;
pub mod template;

pub use error::ValidationError;
