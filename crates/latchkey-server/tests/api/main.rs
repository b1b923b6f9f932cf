//! HTTP integration tests: the real app on a real port, on SQLite and (when
//! `LATCHKEY_TEST_POSTGRES_URL` is set) on PostgreSQL.

mod access_matrix;
mod access_policy_model;
mod accounts;
mod apps;
mod at_rest;
mod audit;
mod auth;
mod browser;
mod connect;
mod connect_config;
mod errors;
mod helpers;
mod oauth;
mod oauth_quirks;
mod ops;
mod proxy;
mod web;
mod web_browser;
mod web_team;
mod webhooks;
mod workflows;
