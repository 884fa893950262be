//! Reading test scripts into commands (the language of `FORMAT.md`).

use super::series_desc::{DescError, SeqValue, SeriesDesc, parse_series_desc};

/// A duration string (`1h30m`, `500ms`, `0`) in milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut rest = s;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            let unit = match rest.chars().next()? {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 7 * 86_400_000,
                'y' => 365 * 86_400_000,
                _ => return None,
            };
            (unit, 1)
        };
        rest = &rest[len..];
        total = total.checked_add(n.checked_mul(unit_ms)?)?;
    }
    Some(total)
}

/// How an expected message is matched.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageMatch {
    /// Any message.
    Any,
    /// Exactly this text.
    Exact(String),
    /// A regular expression (unanchored).
    Regex(String),
}

/// When an eval runs.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalTime {
    /// `eval instant at <t>`.
    Instant {
        /// Evaluation time.
        t_ms: i64,
    },
    /// `eval range from <a> to <b> step <s>`.
    Range {
        /// First step.
        start_ms: i64,
        /// Last step (inclusive).
        end_ms: i64,
        /// Step width.
        step_ms: i64,
    },
}

/// One `eval` command with its expectations.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCommand {
    /// 1-based line number of the header.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// Instant or range.
    pub time: EvalTime,
    /// `expect fail`.
    pub fail: Option<MessageMatch>,
    /// `expect warn` lines.
    pub warn: Vec<MessageMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect info` lines.
    pub info: Vec<MessageMatch>,
    /// `expect no_info`.
    pub no_info: bool,
    /// `expect ordered`.
    pub ordered: bool,
    /// `expect range vector from a to b step s`.
    pub range_vector: Option<(i64, i64, i64)>,
    /// `expect string "..."`.
    pub string: Option<String>,
    /// A scalar expectation.
    pub scalar: Option<f64>,
    /// Expected series.
    pub series: Vec<SeriesDesc>,
}

impl EvalCommand {
    /// Whether any expectation mentions a native histogram.
    pub fn expects_histograms(&self) -> bool {
        self.series.iter().any(SeriesDesc::has_histograms)
    }
}

/// One `load` block.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadCommand {
    /// 1-based line number of the header.
    pub line: usize,
    /// Spacing of the points.
    pub interval_ms: i64,
    /// `load_with_nhcb`: classic histograms are also converted to native
    /// histograms with custom buckets.
    pub with_nhcb: bool,
    /// The series, the last description of a label set winning.
    pub series: Vec<SeriesDesc>,
    /// Whether `@st` start-timestamp lines were present (ignored data).
    pub has_start_timestamps: bool,
}

/// A script command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `load`.
    Load(LoadCommand),
    /// `clear`.
    Clear,
    /// `eval`.
    Eval(Box<EvalCommand>),
}

/// A script that could not be read, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    /// 1-based line.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

fn script_err<T>(line: usize, message: impl Into<String>) -> Result<T, ScriptError> {
    Err(ScriptError { line, message: message.into() })
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>, ScriptError> {
    // Comment lines become blank lines: they end blocks.
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.trim_matches([' ', '\t', '\r']))
        .map(|l| if l.starts_with('#') { "" } else { l })
        .collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let line_no = i + 1;
        if line.is_empty() {
            i += 1;
            continue;
        }
        let word = line.split_whitespace().next().unwrap_or_default();
        // The block: following lines up to a blank line.
        let mut end = i + 1;
        while end < lines.len() && !lines[end].is_empty() {
            end += 1;
        }
        match word {
            "clear" => {
                commands.push(Command::Clear);
                i += 1;
            }
            "load" | "load_with_nhcb" => {
                commands.push(Command::Load(parse_load(word, line, &lines[i + 1..end], line_no)?));
                i = end;
            }
            w if w.starts_with("eval") => {
                let (cmd, consumed) = parse_eval(line, &lines[i + 1..end], line_no)?;
                commands.push(Command::Eval(Box::new(cmd)));
                i += 1 + consumed;
            }
            _ => return script_err(line_no, format!("invalid command {line:?}")),
        }
    }
    Ok(commands)
}

fn parse_load(
    word: &str,
    header: &str,
    body: &[&str],
    line: usize,
) -> Result<LoadCommand, ScriptError> {
    let interval = header[word.len()..].trim();
    let Some(interval_ms) = parse_duration_ms(interval) else {
        return script_err(line, format!("invalid load interval {interval:?}"));
    };
    let mut series: Vec<SeriesDesc> = Vec::new();
    let mut has_start_timestamps = false;
    for (k, l) in body.iter().enumerate() {
        let desc_line = if let Some(pos) = l.find("@st") {
            // `labels@st offsets`: start timestamps, which this engine does not store.
            let before = &l[..pos];
            if before.ends_with('}') || !before.contains(char::is_whitespace) {
                has_start_timestamps = true;
                continue;
            }
            *l
        } else {
            *l
        };
        let desc = parse_series_desc(desc_line)
            .map_err(|DescError(m)| ScriptError { line: line + 1 + k, message: m })?;
        series.retain(|s| s.labels != desc.labels);
        series.push(desc);
    }
    Ok(LoadCommand {
        line,
        interval_ms,
        with_nhcb: word == "load_with_nhcb",
        series,
        has_start_timestamps,
    })
}

/// Splits the header into its eval time and expression.
fn parse_eval_header(
    header: &str,
    line: usize,
) -> Result<(String, EvalTime, bool, bool), ScriptError> {
    let mut words = header.splitn(2, char::is_whitespace);
    let cmd = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default().trim_start();
    let (fail, ordered) = match cmd {
        "eval" | "eval_warn" | "eval_info" => (false, false),
        "eval_fail" => (true, false),
        "eval_ordered" => (false, true),
        _ => return script_err(line, format!("invalid eval command {cmd:?}")),
    };
    let mut toks = rest.split_whitespace();
    let next_dur =
        |toks: &mut std::str::SplitWhitespace<'_>, what: &str| -> Result<i64, ScriptError> {
            let t = toks.next().unwrap_or_default();
            parse_duration_ms(t)
                .ok_or_else(|| ScriptError { line, message: format!("invalid {what} {t:?}") })
        };
    let expect_word =
        |toks: &mut std::str::SplitWhitespace<'_>, w: &str| -> Result<(), ScriptError> {
            match toks.next() {
                Some(t) if t == w => Ok(()),
                other => script_err(line, format!("expected {w:?}, found {other:?}")),
            }
        };
    let time = match toks.next() {
        Some("instant") => {
            expect_word(&mut toks, "at")?;
            EvalTime::Instant { t_ms: next_dur(&mut toks, "time")? }
        }
        Some("range") => {
            expect_word(&mut toks, "from")?;
            let start_ms = next_dur(&mut toks, "start")?;
            expect_word(&mut toks, "to")?;
            let end_ms = next_dur(&mut toks, "end")?;
            expect_word(&mut toks, "step")?;
            let step_ms = next_dur(&mut toks, "step")?;
            if end_ms < start_ms {
                return script_err(line, "end timestamp must not be before start time");
            }
            EvalTime::Range { start_ms, end_ms, step_ms }
        }
        other => return script_err(line, format!("expected instant or range, found {other:?}")),
    };
    let expr = toks.collect::<Vec<_>>().join(" ");
    // Rebuild from the original text so whitespace inside strings survives.
    let expr = match find_expr_start(rest, &time) {
        Some(pos) => rest[pos..].trim().to_owned(),
        None => expr,
    };
    Ok((expr, time, fail, ordered))
}

/// Byte offset where the expression starts after the time words.
fn find_expr_start(rest: &str, time: &EvalTime) -> Option<usize> {
    let words = match time {
        EvalTime::Instant { .. } => 3,
        EvalTime::Range { .. } => 7,
    };
    let mut pos = 0;
    for _ in 0..words {
        let s = &rest[pos..];
        let skip_ws = s.len() - s.trim_start().len();
        pos += skip_ws;
        let w = rest[pos..].find(char::is_whitespace)?;
        pos += w;
    }
    Some(pos)
}

fn parse_message(rest: &str) -> MessageMatch {
    let rest = rest.trim();
    if let Some(m) = rest.strip_prefix("msg:") {
        MessageMatch::Exact(m.trim().to_owned())
    } else if let Some(r) = rest.strip_prefix("regex:") {
        MessageMatch::Regex(r.trim().to_owned())
    } else {
        MessageMatch::Any
    }
}

/// Reads a scalar expectation (Go number syntax, hex included).
fn parse_scalar(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (neg, body) = match lower.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, lower.strip_prefix('+').unwrap_or(&lower)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else if body == "inf"
        || body == "nan"
        || (body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
            && !body.is_empty())
    {
        body.parse::<f64>().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Parses an eval block; returns the command and how many body lines it used.
fn parse_eval(
    header: &str,
    body: &[&str],
    line: usize,
) -> Result<(EvalCommand, usize), ScriptError> {
    let (expr, time, fail, ordered) = parse_eval_header(header, line)?;
    let mut cmd = EvalCommand {
        line,
        expr,
        time,
        fail: fail.then_some(MessageMatch::Any),
        warn: Vec::new(),
        no_warn: false,
        info: Vec::new(),
        no_info: false,
        ordered,
        range_vector: None,
        string: None,
        scalar: None,
        series: Vec::new(),
    };
    let mut used = 0;
    for (k, l) in body.iter().enumerate() {
        used = k + 1;
        let l_no = line + 1 + k;
        if let Some(rest) = l.strip_prefix("expected_fail_message") {
            cmd.fail = Some(MessageMatch::Exact(rest.trim().to_owned()));
            break;
        }
        if let Some(rest) = l.strip_prefix("expected_fail_regexp") {
            cmd.fail = Some(MessageMatch::Regex(rest.trim().to_owned()));
            break;
        }
        if let Some(rest) = l.strip_prefix("expect ") {
            let rest = rest.trim_start();
            let kind = rest.split_whitespace().next().unwrap_or_default();
            let after = rest[kind.len()..].trim_start();
            match kind {
                "fail" => cmd.fail = Some(parse_message(after)),
                "warn" => cmd.warn.push(parse_message(after)),
                "info" => cmd.info.push(parse_message(after)),
                "no_warn" => cmd.no_warn = true,
                "no_info" => cmd.no_info = true,
                "ordered" => cmd.ordered = true,
                "string" => {
                    let (s, _) = super::series_desc::parse_quoted(after)
                        .map_err(|e| ScriptError { line: l_no, message: e.0 })?;
                    cmd.string = Some(s);
                }
                "range" => {
                    let w: Vec<&str> = after.split_whitespace().collect();
                    let parsed = match w.as_slice() {
                        ["vector", "from", a, "to", b, "step", s] => {
                            parse_duration_ms(a).zip(parse_duration_ms(b)).zip(parse_duration_ms(s))
                        }
                        _ => None,
                    };
                    let Some(((a, b), s)) = parsed else {
                        return script_err(l_no, format!("invalid range vector expectation {l:?}"));
                    };
                    cmd.range_vector = Some((a, b, s));
                }
                _ => return script_err(l_no, format!("invalid expect line {l:?}")),
            }
            continue;
        }
        if let Some(v) = parse_scalar(l) {
            cmd.scalar = Some(v);
            break;
        }
        let desc =
            parse_series_desc(l).map_err(|DescError(m)| ScriptError { line: l_no, message: m })?;
        if matches!(cmd.time, EvalTime::Instant { .. })
            && cmd.range_vector.is_none()
            && desc.values.iter().filter(|v| !matches!(v, SeqValue::Omitted)).count() != 1
        {
            return script_err(l_no, "expected exactly one value for an instant query");
        }
        cmd.series.push(desc);
    }
    Ok((cmd, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("10s53ms"), Some(10_053));
        assert_eq!(parse_duration_ms("0"), Some(0));
        assert_eq!(parse_duration_ms("5x"), None);
        assert_eq!(parse_duration_ms(""), None);
    }

    #[test]
    fn reads_commands() {
        let script = "load 5m\n  a{x=\"1\"} 1 2\n# c\neval instant at 5m a\n  expect warn msg: boom\n  a{x=\"1\"} 2\n\neval range from 0 to 10m step 5m sum(a)\n  {} 1 2 _\n\neval instant at 0 1\n  0x10\nclear\n";
        let cmds = parse_script(script).unwrap();
        assert_eq!(cmds.len(), 5);
        let Command::Eval(e) = &cmds[1] else { panic!("not an eval") };
        assert_eq!(e.expr, "a");
        assert_eq!(e.time, EvalTime::Instant { t_ms: 300_000 });
        assert_eq!(e.warn, [MessageMatch::Exact("boom".into())]);
        let Command::Eval(e) = &cmds[2] else { panic!("not an eval") };
        assert_eq!(e.time, EvalTime::Range { start_ms: 0, end_ms: 600_000, step_ms: 300_000 });
        assert_eq!(e.expr, "sum(a)");
        let Command::Eval(e) = &cmds[3] else { panic!("not an eval") };
        assert_eq!(e.scalar, Some(16.0));
        assert_eq!(cmds[4], Command::Clear, "a scalar line ends the block");
    }

    #[test]
    fn string_expressions_keep_spaces() {
        let cmds =
            parse_script("eval instant at 50m \" Foo  \"\n    expect string \" Foo  \"\n").unwrap();
        let Command::Eval(e) = &cmds[0] else { panic!("not an eval") };
        assert_eq!(e.expr, "\" Foo  \"");
        assert_eq!(e.string.as_deref(), Some(" Foo  "));
    }
}
