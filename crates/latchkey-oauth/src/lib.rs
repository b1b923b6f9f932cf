#![doc = include_str!("../README.md")]

mod authorize;
pub mod oauth1;
mod pkce;
mod token;

pub use authorize::{authorize_url, check_issuer, AuthorizeParams, IssuerError};
pub use pkce::{random_token, Pkce};
pub use token::{
    client_auth, parse_token_response, ClientAuth, TokenError, TokenSet, DEFAULT_EXPIRES_IN_SECONDS,
};
