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
        Err(
            "at byte 0: unknown function \"sqrt\": use abs, round, min, max, delta, rate or cumulative"
                .into()
        )
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

#[test]
fn round_min_max_and_cumulative() {
    let mut state = SeriesState::new();
    assert_eq!(
        eval("round(x, 2)", &[("x", 1.005_1)], 0.0, &mut state),
        Ok(Some(1.01))
    );
    assert_eq!(eval("round(-2.5, 0)", &[], 0.0, &mut state), Ok(Some(-3.0)));
    assert_eq!(
        eval("round(1234, -2)", &[], 0.0, &mut state),
        Ok(Some(1200.0))
    );
    assert_eq!(
        eval("min(3, a, 2) + max(a, 7)", &[("a", 5.0)], 0.0, &mut state),
        Ok(Some(9.0))
    );
    assert_eq!(
        eval("min(a)", &[], 0.0, &mut state),
        Err("at byte 0: min() takes two or more arguments".into())
    );
    assert_eq!(
        eval("round(a)", &[], 0.0, &mut state),
        Err("at byte 0: round() takes 2 arguments, not 1".into())
    );
    let mut slots = 0;
    let expr = Expr::parse("cumulative(q) * 2", &mut slots).unwrap();
    assert!(expr.is_running());
    let mut running = Vec::new();
    let sums: Vec<_> = [1.5, 2.0, 0.5]
        .iter()
        .map(|q| {
            let lookup = |_: &str| Some(*q);
            expr.eval_running(&lookup, 0.0, &mut state, &mut running)
                .unwrap()
        })
        .collect();
    assert_eq!(sums, [Some(3.0), Some(7.0), Some(8.0)]);
}
