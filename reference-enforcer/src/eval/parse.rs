//! `nft -f` text into tables, for the subset of the language the renderer
//! writes: `table`/`delete table`, verdict maps and sets keyed by addresses,
//! protocols and ports (concatenated, with intervals), and chains whose
//! rules match `ct state`, `ct direction` and set lookups and end in a
//! verdict or a `vmap`. Anything else is an error naming the line, as are
//! the things nft or the kernel would refuse: unknown objects, type
//! mismatches, ranges in a set without `flags interval`, overlapping
//! elements, jumps to base chains and jump loops.

use super::chains::chain_body;
use super::elements::{map_body, set_body};
use super::lex::{Parser, Tok, name, tokens};
use super::model::{LoadError, Table, Tables, error};
use super::validate::validate;

/// Applies one transaction to `before`: the tables after it, or the first
/// reason it would be refused (then nothing changes).
pub(super) fn transaction(text: &str, before: &Tables) -> Result<Tables, LoadError> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    let mut tables = before.clone();
    loop {
        parser.skip_ends();
        let Some(token) = parser.peek() else { break };
        let line = token.line;
        match parser.word("a command")? {
            "table" => {
                let key = table_name(&mut parser, line)?;
                let table = tables.entry(key.clone()).or_default();
                parser.expect(Tok::Open)?;
                table_body(&mut parser, table, &key.1)?;
            }
            "delete" => {
                parser.keyword("table")?;
                let key = table_name(&mut parser, line)?;
                if tables.remove(&key).is_none() {
                    return error(
                        line,
                        format!(
                            "delete of table {} {}, which does not exist (No such file or directory)",
                            key.0, key.1
                        ),
                    );
                }
            }
            other => return error(line, format!("unsupported command `{other}`")),
        }
    }
    for ((_, name), table) in &tables {
        validate(name, table)?;
    }
    Ok(tables)
}

fn table_name(parser: &mut Parser, line: usize) -> Result<(String, String), LoadError> {
    let family = parser.word("a table family")?;
    if family != "inet" {
        return error(
            line,
            format!("only `inet` tables are supported, not `{family}`"),
        );
    }
    let table = name(line, "table", parser.word("a table name")?)?;
    Ok((family.to_owned(), table))
}

fn table_body(parser: &mut Parser, table: &mut Table, table_name: &str) -> Result<(), LoadError> {
    loop {
        if parser.closes(&format!("table {table_name}"))? {
            return Ok(());
        }
        let line = parser.line();
        let kind = parser.word("`set`, `map` or `chain`")?;
        let object = parser.word("a name")?;
        parser.expect(Tok::Open)?;
        let taken = match kind {
            "set" => {
                let object = name(line, "set", object)?;
                let set = set_body(parser, &object)?;
                table.sets.insert(object, set).is_some()
            }
            "map" => {
                let object = name(line, "map", object)?;
                let map = map_body(parser, &object)?;
                table.maps.insert(object, map).is_some()
            }
            "chain" => {
                let object = name(line, "chain", object)?;
                let chain = chain_body(parser, &object)?;
                table.chains.insert(object, chain).is_some()
            }
            other => return error(line, format!("unsupported object `{other}` in a table")),
        };
        if taken {
            return error(line, format!("{kind} {object} is declared twice"));
        }
    }
}
