#![doc = include_str!("../README.md")]

pub mod app;
pub mod audit;
mod auth;
pub mod cache;
pub mod catalog;
pub mod clock;
pub mod config;
mod controllers;
mod cors;
pub mod error;
mod metrics;
pub mod outbound;
pub mod proxy;
mod router;
pub mod service;
pub mod telemetry;
pub mod vault;
mod views;
pub mod web;

pub use app::{App, AppState};
pub use router::build_router;
