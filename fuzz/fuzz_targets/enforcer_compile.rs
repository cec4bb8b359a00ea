//! The enforcer's compiler on structured snapshots: never a panic, a
//! deterministic rendering, and (sampled) text that `nft -c` accepts.
#![no_main]

use netpol_fuzz::snapshot_input::Input;

libfuzzer_sys::fuzz_target!(|input: Input| netpol_fuzz::enforcer_compile(&input));
