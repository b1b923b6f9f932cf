//! The `latchkey` binary end to end: provisioning contracts, restarts, key checks, several
//! servers on one PostgreSQL, and refreshes that survive a killed instance.

mod audit;
mod provisioning;
mod refresh;
mod servers;
mod support;
