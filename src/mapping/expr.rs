//! The arithmetic of derived fields: `high - low`, `abs(delta(spread))`, `rate(volume) * 60`.
//!
//! Grammar: numbers, names of the rule's fields and earlier derived fields, `+ - * /`, unary
//! `-`, parentheses, and the functions `abs(x)`, `delta(x)` (change since the previous message
//! of the same series) and `rate(x)` (that change per second of reading time).

use std::fmt;

/// A parsed expression; `Stateful` nodes keep their previous value per series.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Number(f64),
    /// The value of a field or an earlier derived field.
    Name(String),
    /// `-x`.
    Negate(Box<Expr>),
    /// `a op b`.
    Binary(Box<Expr>, Op, Box<Expr>),
    /// `abs(x)`.
    Abs(Box<Expr>),
    /// `delta(x)` or `rate(x)`; `slot` numbers the node for its per-series state.
    Stateful {
        /// Which function.
        function: Stateful,
        /// Its argument.
        argument: Box<Expr>,
        /// Index of this node's state within the rule.
        slot: usize,
    },
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `+`
    Add,
    /// `-`
    Subtract,
    /// `*`
    Multiply,
    /// `/`
    Divide,
}

/// A function that looks at the previous message of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stateful {
    /// `delta(x)`: x now minus x before.
    Delta,
    /// `rate(x)`: delta(x) divided by the seconds between the two readings.
    Rate,
}

/// A syntax error with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset in the expression.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

/// Why an expression has no value for one message.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// A division by zero.
    DivisionByZero,
    /// The result is NaN or infinite.
    NotFinite,
    /// A name has no numeric value in this message.
    Missing(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::DivisionByZero => f.write_str("division by zero"),
            EvalError::NotFinite => f.write_str("the result is not a finite number"),
            EvalError::Missing(name) => write!(f, "{name:?} has no numeric value"),
        }
    }
}

/// The previous value (and reading time in seconds) of each stateful node of one series.
pub type SeriesState = Vec<Option<(f64, f64)>>;

impl Expr {
    /// Parses `text`; `next_slot` numbers stateful nodes and is advanced past them.
    pub fn parse(text: &str, next_slot: &mut usize) -> Result<Expr, SyntaxError> {
        let mut parser = Parser {
            text,
            pos: 0,
            next_slot,
        };
        let expr = parser.sum()?;
        parser.skip_spaces();
        if parser.pos < text.len() {
            return Err(parser.error("unexpected text"));
        }
        Ok(expr)
    }

    /// Every name the expression reads.
    pub fn names(&self, into: &mut Vec<String>) {
        match self {
            Expr::Number(_) => {}
            Expr::Name(name) => into.push(name.clone()),
            Expr::Negate(e) | Expr::Abs(e) => e.names(into),
            Expr::Stateful { argument, .. } => argument.names(into),
            Expr::Binary(a, _, b) => {
                a.names(into);
                b.names(into);
            }
        }
    }

    /// Evaluates with `lookup` for names, at reading time `now` (seconds), updating `state`.
    /// `Ok(None)` when a `delta` or `rate` has no previous value yet (the first message).
    pub fn eval(
        &self,
        lookup: &dyn Fn(&str) -> Option<f64>,
        now: f64,
        state: &mut SeriesState,
    ) -> Result<Option<f64>, EvalError> {
        let value = match self {
            Expr::Number(v) => Some(*v),
            Expr::Name(name) => Some(lookup(name).ok_or_else(|| EvalError::Missing(name.clone()))?),
            Expr::Negate(e) => e.eval(lookup, now, state)?.map(|v| -v),
            Expr::Abs(e) => e.eval(lookup, now, state)?.map(f64::abs),
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(lookup, now, state)?, b.eval(lookup, now, state)?);
                match (a, b) {
                    (Some(a), Some(b)) => Some(match op {
                        Op::Add => a + b,
                        Op::Subtract => a - b,
                        Op::Multiply => a * b,
                        Op::Divide if b == 0.0 => return Err(EvalError::DivisionByZero),
                        Op::Divide => a / b,
                    }),
                    _ => None,
                }
            }
            Expr::Stateful {
                function,
                argument,
                slot,
            } => {
                let Some(current) = argument.eval(lookup, now, state)? else {
                    return Ok(None);
                };
                if state.len() <= *slot {
                    state.resize(*slot + 1, None);
                }
                let previous = state[*slot].replace((current, now));
                match (previous, function) {
                    (None, _) => None,
                    (Some((before, _)), Stateful::Delta) => Some(current - before),
                    (Some((before, then)), Stateful::Rate) => {
                        let seconds = now - then;
                        if seconds == 0.0 {
                            return Err(EvalError::DivisionByZero);
                        }
                        Some((current - before) / seconds)
                    }
                }
            }
        };
        match value {
            Some(v) if !v.is_finite() => Err(EvalError::NotFinite),
            other => Ok(other),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    next_slot: &'a mut usize,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            reason: reason.to_owned(),
        }
    }

    fn skip_spaces(&mut self) {
        while self.text[self.pos..].starts_with([' ', '\t']) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.text[self.pos..].chars().next()
    }

    fn sum(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.product()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let op = if c == '+' { Op::Add } else { Op::Subtract };
            left = Expr::Binary(Box::new(left), op, Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.unary()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let op = if c == '*' { Op::Multiply } else { Op::Divide };
            left = Expr::Binary(Box::new(left), op, Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.peek() == Some('-') {
            self.pos += 1;
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.sum()?;
                self.expect(')')?;
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                let rest = &self.text[start..];
                let len = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E'))
                    .unwrap_or(rest.len());
                self.pos += len;
                rest[..len]
                    .parse()
                    .map(Expr::Number)
                    .map_err(|_| SyntaxError {
                        offset: start,
                        reason: format!("{:?} is not a number", &rest[..len]),
                    })
            }
            Some(c) if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                let rest = &self.text[start..];
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let name = &rest[..len];
                self.pos += len;
                if self.peek() != Some('(') {
                    return Ok(Expr::Name(name.to_owned()));
                }
                self.pos += 1;
                let argument = Box::new(self.sum()?);
                self.expect(')')?;
                let stateful = |function| Expr::Stateful {
                    function,
                    argument: argument.clone(),
                    slot: 0,
                };
                let mut expr = match name {
                    "abs" => return Ok(Expr::Abs(argument)),
                    "delta" => stateful(Stateful::Delta),
                    "rate" => stateful(Stateful::Rate),
                    other => {
                        return Err(SyntaxError {
                            offset: start,
                            reason: format!("unknown function {other:?}: use abs, delta or rate"),
                        });
                    }
                };
                if let Expr::Stateful { slot, .. } = &mut expr {
                    *slot = *self.next_slot;
                    *self.next_slot += 1;
                }
                Ok(expr)
            }
            Some(_) => Err(self.error("expected a number, a name, a function or '('")),
            None => Err(self.error("the expression ends too soon")),
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SyntaxError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {c:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(
        text: &str,
        values: &[(&str, f64)],
        now: f64,
        state: &mut SeriesState,
    ) -> Result<Option<f64>, String> {
        let mut slots = 0;
        let expr = Expr::parse(text, &mut slots).map_err(|e| e.to_string())?;
        let lookup = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        expr.eval(&lookup, now, state).map_err(|e| e.to_string())
    }

    #[test]
    fn arithmetic_and_precedence() {
        let mut state = SeriesState::new();
        assert_eq!(
            eval(
                "high - low",
                &[("high", 5.5), ("low", 2.0)],
                0.0,
                &mut state
            ),
            Ok(Some(3.5))
        );
        assert_eq!(
            eval("1 + 2 * 3 - -4 / 2", &[], 0.0, &mut state),
            Ok(Some(9.0))
        );
        assert_eq!(eval("(1 + 2) * 3", &[], 0.0, &mut state), Ok(Some(9.0)));
        assert_eq!(
            eval("abs(a - b)", &[("a", 1.0), ("b", 4.0)], 0.0, &mut state),
            Ok(Some(3.0))
        );
    }

    #[test]
    fn delta_and_rate_keep_state_per_series() {
        let mut state = SeriesState::new();
        let text = "abs(delta(x)) + rate(x) * 0";
        assert_eq!(
            eval(text, &[("x", 10.0)], 1.0, &mut state),
            Ok(None),
            "first message: no previous value"
        );
        assert_eq!(eval(text, &[("x", 7.0)], 2.0, &mut state), Ok(Some(3.0)));
        let mut rate_state = SeriesState::new();
        eval("rate(x)", &[("x", 10.0)], 1.0, &mut rate_state).unwrap();
        assert_eq!(
            eval("rate(x)", &[("x", 16.0)], 3.0, &mut rate_state),
            Ok(Some(3.0))
        );
    }

    #[test]
    fn errors() {
        let mut state = SeriesState::new();
        assert_eq!(
            eval("a / b", &[("a", 1.0), ("b", 0.0)], 0.0, &mut state),
            Err("division by zero".into())
        );
        assert_eq!(
            eval("a + q", &[("a", 1.0)], 0.0, &mut state),
            Err("\"q\" has no numeric value".into())
        );
        assert_eq!(
            eval("a +", &[], 0.0, &mut state),
            Err("at byte 3: the expression ends too soon".into())
        );
        assert_eq!(
            eval("sqrt(a)", &[], 0.0, &mut state),
            Err("at byte 0: unknown function \"sqrt\": use abs, delta or rate".into())
        );
        assert_eq!(
            eval("(a", &[], 0.0, &mut state),
            Err("at byte 2: expected ')'".into())
        );
        assert_eq!(
            eval("a b", &[], 0.0, &mut state),
            Err("at byte 2: unexpected text".into())
        );
        assert_eq!(
            eval("1..2", &[], 0.0, &mut state),
            Err("at byte 0: \"1..2\" is not a number".into())
        );
    }
}
