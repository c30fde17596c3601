//! The arithmetic of derived fields: `high - low`, `abs(delta(spread))`, `rate(volume) * 60`.
//!
//! Grammar: numbers, names of the rule's fields and earlier derived fields, `+ - * /`, unary
//! `-`, parentheses, and the functions `abs(x)`, `round(x, digits)`, `min(a, b, …)`,
//! `max(a, b, …)`, `delta(x)` (change since the previous message of the same series),
//! `rate(x)` (that change per second of reading time) and `cumulative(x)` (the running sum
//! of x over the elements of the array a rule iterates, from the first element on).

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
    /// `round(x, digits)`, `min(a, b, …)` or `max(a, b, …)`.
    Call(Function, Vec<Expr>),
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

/// A function of its arguments alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `round(x, digits)`: x rounded half away from zero to `digits` decimal places
    /// (negative digits round to tens, hundreds…; digits are taken as a whole number in -15..=15).
    Round,
    /// `min(a, b, …)`: the smallest argument.
    Min,
    /// `max(a, b, …)`: the largest argument.
    Max,
}

/// A function that keeps state: across the messages of a series, or across the elements of
/// one message's array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stateful {
    /// `delta(x)`: x now minus x before.
    Delta,
    /// `rate(x)`: delta(x) divided by the seconds between the two readings.
    Rate,
    /// `cumulative(x)`: x plus the x of every earlier element of the array being iterated,
    /// in this message. Only in rules with `each`.
    Cumulative,
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
            Expr::Call(_, arguments) => arguments.iter().for_each(|a| a.names(into)),
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
        self.eval_running(lookup, now, state, &mut Vec::new())
    }

    /// As [`eval`](Expr::eval), with `running` holding the running sums of `cumulative`
    /// nodes (by slot) across the elements of one message's array: empty it before the
    /// first element.
    pub fn eval_running(
        &self,
        lookup: &dyn Fn(&str) -> Option<f64>,
        now: f64,
        state: &mut SeriesState,
        running: &mut Vec<f64>,
    ) -> Result<Option<f64>, EvalError> {
        let value = match self {
            Expr::Number(v) => Some(*v),
            Expr::Name(name) => Some(lookup(name).ok_or_else(|| EvalError::Missing(name.clone()))?),
            Expr::Negate(e) => e.eval_running(lookup, now, state, running)?.map(|v| -v),
            Expr::Abs(e) => e.eval_running(lookup, now, state, running)?.map(f64::abs),
            Expr::Call(function, arguments) => {
                let mut result: Option<f64> = None;
                for (i, argument) in arguments.iter().enumerate() {
                    let Some(v) = argument.eval_running(lookup, now, state, running)? else {
                        return Ok(None);
                    };
                    result = Some(match (function, result) {
                        (_, None) => v,
                        (Function::Min, Some(r)) => r.min(v),
                        (Function::Max, Some(r)) => r.max(v),
                        (Function::Round, Some(x)) if i == 1 => {
                            let factor = 10f64.powi(v.round().clamp(-15.0, 15.0) as i32);
                            (x * factor).round() / factor
                        }
                        (Function::Round, Some(r)) => r,
                    });
                }
                result
            }
            Expr::Binary(a, op, b) => {
                let (a, b) = (
                    a.eval_running(lookup, now, state, running)?,
                    b.eval_running(lookup, now, state, running)?,
                );
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
                let Some(current) = argument.eval_running(lookup, now, state, running)? else {
                    return Ok(None);
                };
                if *function == Stateful::Cumulative {
                    if running.len() <= *slot {
                        running.resize(*slot + 1, 0.0);
                    }
                    running[*slot] += current;
                    return finite(running[*slot]);
                }
                if state.len() <= *slot {
                    state.resize(*slot + 1, None);
                }
                let previous = state[*slot].replace((current, now));
                match (previous, function) {
                    (None, _) => None,
                    (Some((before, _)), Stateful::Delta) => Some(current - before),
                    (Some(_), Stateful::Cumulative) => None,
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
            Some(v) => finite(v),
            None => Ok(None),
        }
    }

    /// True when the expression uses `cumulative`.
    pub fn is_running(&self) -> bool {
        match self {
            Expr::Number(_) | Expr::Name(_) => false,
            Expr::Negate(e) | Expr::Abs(e) => e.is_running(),
            Expr::Call(_, arguments) => arguments.iter().any(Expr::is_running),
            Expr::Binary(a, _, b) => a.is_running() || b.is_running(),
            Expr::Stateful {
                function, argument, ..
            } => *function == Stateful::Cumulative || argument.is_running(),
        }
    }
}

fn finite(v: f64) -> Result<Option<f64>, EvalError> {
    if v.is_finite() {
        Ok(Some(v))
    } else {
        Err(EvalError::NotFinite)
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
                let mut arguments = vec![self.sum()?];
                while self.peek() == Some(',') {
                    self.pos += 1;
                    arguments.push(self.sum()?);
                }
                self.expect(')')?;
                let arity = |expected: usize| {
                    if arguments.len() == expected {
                        Ok(())
                    } else {
                        Err(SyntaxError {
                            offset: start,
                            reason: format!(
                                "{name}() takes {expected} argument{}, not {}",
                                if expected == 1 { "" } else { "s" },
                                arguments.len()
                            ),
                        })
                    }
                };
                match name {
                    "round" => {
                        arity(2)?;
                        return Ok(Expr::Call(Function::Round, arguments));
                    }
                    "min" | "max" if arguments.len() < 2 => {
                        return Err(SyntaxError {
                            offset: start,
                            reason: format!("{name}() takes two or more arguments"),
                        });
                    }
                    "min" => return Ok(Expr::Call(Function::Min, arguments)),
                    "max" => return Ok(Expr::Call(Function::Max, arguments)),
                    _ => arity(1)?,
                }
                let argument = Box::new(arguments.swap_remove(0));
                let stateful = |function| Expr::Stateful {
                    function,
                    argument: argument.clone(),
                    slot: 0,
                };
                let mut expr = match name {
                    "abs" => return Ok(Expr::Abs(argument)),
                    "delta" => stateful(Stateful::Delta),
                    "rate" => stateful(Stateful::Rate),
                    "cumulative" => stateful(Stateful::Cumulative),
                    other => {
                        return Err(SyntaxError {
                            offset: start,
                            reason: format!(
                                "unknown function {other:?}: use abs, round, min, max, delta, rate or cumulative"
                            ),
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
#[path = "expr_tests.rs"]
mod tests;
