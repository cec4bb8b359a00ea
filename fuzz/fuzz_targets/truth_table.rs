//! Truth-table parsing on arbitrary text: never a panic, and render ∘ parse
//! is the identity on what parses.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| netpol_fuzz::truth_table(bytes));
