//! The store contract, run against every backend. A backend provides only a `setup`
//! function returning a fresh, empty store; `store_contract_tests!` generates one test per
//! contract case for it.

#[macro_use]
mod contract;
mod mongo;
mod sqlite;
