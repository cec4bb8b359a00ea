//! Case loading and validation on arbitrary bytes: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| netpol_fuzz::case_load(bytes));
