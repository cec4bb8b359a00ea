//! The words of `nft -f` text: words, braces, commas and statement ends,
//! with line numbers, and a cursor over them.

use super::model::{LoadError, MAX_NAME, error};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok<'a> {
    Word(&'a str),
    Open,
    Close,
    Comma,
    End,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'a> {
    pub tok: Tok<'a>,
    pub line: usize,
}

/// Words, braces, commas and statement ends (a newline or `;`); `#` starts
/// a comment that runs to the end of the line.
pub(super) fn tokens(text: &str) -> Result<Vec<Token<'_>>, LoadError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let code = line.split('#').next().unwrap_or_default();
        let mut rest = code;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let punct = match rest.as_bytes()[0] {
                b'{' => Some(Tok::Open),
                b'}' => Some(Tok::Close),
                b',' => Some(Tok::Comma),
                b';' => Some(Tok::End),
                b'"' | b'\'' => return error(number, "quoted strings are not supported"),
                _ => None,
            };
            if let Some(tok) = punct {
                out.push(Token { tok, line: number });
                rest = &rest[1..];
                continue;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || "{},;".contains(c))
                .unwrap_or(rest.len());
            out.push(Token {
                tok: Tok::Word(&rest[..end]),
                line: number,
            });
            rest = &rest[end..];
        }
        out.push(Token {
            tok: Tok::End,
            line: number,
        });
    }
    Ok(out)
}

pub(super) struct Parser<'a> {
    pub tokens: Vec<Token<'a>>,
    pub at: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.at).copied()
    }

    pub(super) fn line(&self) -> usize {
        self.peek()
            .or_else(|| self.tokens.last().copied())
            .map_or(0, |t| t.line)
    }

    pub(super) fn next(&mut self) -> Option<Token<'a>> {
        let token = self.peek();
        self.at += usize::from(token.is_some());
        token
    }

    pub(super) fn skip_ends(&mut self) {
        while self.peek().is_some_and(|t| t.tok == Tok::End) {
            self.at += 1;
        }
    }

    /// Skips statement ends; true (and consumed) when the block closes
    /// here, an error naming `what` when the text ends first.
    pub(super) fn closes(&mut self, what: &str) -> Result<bool, LoadError> {
        self.skip_ends();
        match self.peek().map(|t| t.tok) {
            Some(Tok::Close) => {
                self.at += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => error(self.line(), format!("{what} is not closed")),
        }
    }

    pub(super) fn word(&mut self, what: &str) -> Result<&'a str, LoadError> {
        match self.next() {
            Some(Token {
                tok: Tok::Word(word),
                ..
            }) => Ok(word),
            Some(token) => error(
                token.line,
                format!("expected {what}, found {:?}", token.tok),
            ),
            None => error(self.line(), format!("expected {what}, found the end")),
        }
    }

    pub(super) fn keyword(&mut self, wanted: &str) -> Result<(), LoadError> {
        let line = self.line();
        let word = self.word(&format!("`{wanted}`"))?;
        if word == wanted {
            Ok(())
        } else {
            error(line, format!("expected `{wanted}`, found `{word}`"))
        }
    }

    pub(super) fn expect(&mut self, wanted: Tok<'static>) -> Result<(), LoadError> {
        match self.next() {
            Some(token) if token.tok == wanted => Ok(()),
            Some(token) => error(
                token.line,
                format!("expected {wanted:?}, found {:?}", token.tok),
            ),
            None => error(self.line(), format!("expected {wanted:?}, found the end")),
        }
    }

    /// The words of one statement, up to (not including) its end, a comma
    /// or a closing brace.
    pub(super) fn statement(&mut self) -> Vec<&'a str> {
        let mut words = Vec::new();
        while let Some(Token {
            tok: Tok::Word(word),
            ..
        }) = self.peek()
        {
            words.push(word);
            self.at += 1;
        }
        words
    }

    /// A rule's words: a statement in which `a,b` (as in `ct state
    /// established,related`) stays one word.
    pub(super) fn rule_words(&mut self) -> Vec<String> {
        let mut words: Vec<String> = self.statement().into_iter().map(str::to_owned).collect();
        while self.peek().is_some_and(|t| t.tok == Tok::Comma) && !words.is_empty() {
            self.at += 1;
            let more = self.statement();
            let Some((first, rest)) = more.split_first() else {
                break;
            };
            if let Some(last) = words.last_mut() {
                last.push(',');
                last.push_str(first);
            }
            words.extend(rest.iter().map(|w| (*w).to_owned()));
        }
        words
    }
}

pub(super) fn name(line: usize, what: &str, text: &str) -> Result<String, LoadError> {
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '.');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "/\\-_.".contains(c));
    if !first_ok || !rest_ok {
        return error(line, format!("`{text}` is not a valid {what} name"));
    }
    if text.len() > MAX_NAME {
        return error(
            line,
            format!("{what} name of {} bytes (at most {MAX_NAME})", text.len()),
        );
    }
    Ok(text.to_owned())
}
