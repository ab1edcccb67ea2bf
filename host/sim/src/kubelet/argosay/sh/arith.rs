//! `$((…))`: the shell's integer arithmetic, over numbers and the container's environment.

use std::collections::BTreeMap;

use super::{MAX_NESTING, is_name};

/// `$((…))`: integer arithmetic with `+ - * / %`, comparisons (1 or 0), parentheses, unary
/// minus, numbers, and variables (`$X` or bare `X`; unset or empty is 0).
pub(super) fn arithmetic(text: &str, env: &BTreeMap<String, String>) -> Result<i64, String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            let mut word = String::new();
            if c == '$' {
                chars.next();
            }
            while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                word.push(c);
            }
            tokens.push(word);
        } else {
            chars.next();
            let two: String = [c].into_iter().chain(chars.peek().copied()).collect();
            if ["<=", ">=", "==", "!="].contains(&two.as_str()) {
                chars.next();
                tokens.push(two);
            } else if "+-*/%()<>".contains(c) {
                tokens.push(c.to_string());
            } else {
                return Err(format!("unsupported arithmetic \"{c}\" in $(({text}))"));
            }
        }
    }
    let mut at = 0;
    let value = Arithmetic {
        tokens: &tokens,
        env,
        text,
    }
    .comparison(&mut at, 0)?;
    if at != tokens.len() {
        return Err(format!("syntax error in $(({text}))"));
    }
    Ok(value)
}

struct Arithmetic<'a> {
    tokens: &'a [String],
    env: &'a BTreeMap<String, String>,
    text: &'a str,
}

impl Arithmetic<'_> {
    fn error(&self) -> String {
        format!("syntax error in $(({}))", self.text)
    }

    fn comparison(&self, at: &mut usize, depth: usize) -> Result<i64, String> {
        let left = self.sum(at, depth)?;
        let Some(op) = self
            .tokens
            .get(*at)
            .filter(|t| ["<", ">", "<=", ">=", "==", "!="].contains(&t.as_str()))
        else {
            return Ok(left);
        };
        *at += 1;
        let right = self.sum(at, depth)?;
        Ok(i64::from(match op.as_str() {
            "<" => left < right,
            ">" => left > right,
            "<=" => left <= right,
            ">=" => left >= right,
            "==" => left == right,
            _ => left != right,
        }))
    }

    fn sum(&self, at: &mut usize, depth: usize) -> Result<i64, String> {
        let mut value = self.product(at, depth)?;
        while let Some(op) = self.tokens.get(*at).filter(|t| *t == "+" || *t == "-") {
            *at += 1;
            let right = self.product(at, depth)?;
            value = if op == "+" {
                value.wrapping_add(right)
            } else {
                value.wrapping_sub(right)
            };
        }
        Ok(value)
    }

    fn product(&self, at: &mut usize, depth: usize) -> Result<i64, String> {
        let mut value = self.unary(at, depth)?;
        while let Some(op) = self
            .tokens
            .get(*at)
            .filter(|t| ["*", "/", "%"].contains(&t.as_str()))
        {
            *at += 1;
            let right = self.unary(at, depth)?;
            value = match op.as_str() {
                "*" => value.wrapping_mul(right),
                _ if right == 0 => return Err(format!("division by zero in $(({}))", self.text)),
                "/" => value.wrapping_div(right),
                _ => value.wrapping_rem(right),
            };
        }
        Ok(value)
    }

    fn unary(&self, at: &mut usize, depth: usize) -> Result<i64, String> {
        if depth > MAX_NESTING {
            return Err(format!("$(({})) nests too deeply", self.text));
        }
        let token = self.tokens.get(*at).ok_or_else(|| self.error())?;
        *at += 1;
        match token.as_str() {
            "-" => Ok(self.unary(at, depth + 1)?.wrapping_neg()),
            "+" => self.unary(at, depth + 1),
            "(" => {
                let value = self.comparison(at, depth + 1)?;
                if self.tokens.get(*at).map(String::as_str) != Some(")") {
                    return Err(self.error());
                }
                *at += 1;
                Ok(value)
            }
            word if word.chars().all(|c| c.is_ascii_digit()) && !word.is_empty() => {
                word.parse().map_err(|_| self.error())
            }
            word if is_name(word) => {
                let value = self.env.get(word).map(|v| v.trim()).unwrap_or("");
                if value.is_empty() {
                    return Ok(0);
                }
                value
                    .parse()
                    .map_err(|_| format!("{word}={value:?} is not a number in $(({}))", self.text))
            }
            _ => Err(self.error()),
        }
    }
}
