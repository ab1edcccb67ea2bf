//! `cowsay`, as installed in `argoproj/argosay:v1` (a cow) and `docker/whalesay` (a whale).

/// Text wider than this wraps, like cowsay's default `-W 40` (Text::Wrap keeps lines below 40).
const WRAP: usize = 39;

const COW: &str = r"        \   ^__^
         \  (oo)\_______
            (__)\       )\/\
                ||----w |
                ||     ||
";

const WHALE: &str = r#"    \
     \
      \
                    ##        .
              ## ## ##       ==
           ## ## ## ##      ===
       /""""""""""""""""___/ ===
  ~~~ {~~ ~~~~ ~~~ ~~~~ ~~ ~ /  ===- ~~~
       \______ o          __/
        \    \        __/
          \____\______/
"#;

/// What `cowsay WORDS...` prints: the words (joined by spaces, whitespace collapsed, wrapped) in a
/// speech bubble above the animal.
pub(super) fn cowsay(words: &[String], whale: bool) -> String {
    let text = words.join(" ");
    let lines = wrap(&text);
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = format!(" {}\n", "_".repeat(width + 2));
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        let (open, close) = match (lines.len(), i) {
            (1, _) => ('<', '>'),
            (_, 0) => ('/', '\\'),
            (_, i) if i == last => ('\\', '/'),
            _ => ('|', '|'),
        };
        let pad = width - line.chars().count();
        out.push_str(&format!("{open} {line}{} {close}\n", " ".repeat(pad)));
    }
    out.push_str(&format!(" {}\n", "-".repeat(width + 2)));
    out.push_str(if whale { WHALE } else { COW });
    out
}

/// Greedy word wrap; a word longer than a line is broken. Always at least one (maybe empty) line.
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > WRAP {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            lines.push(word.drain(..WRAP).collect());
        }
        let word: String = word.into_iter().collect();
        if word.is_empty() {
            continue;
        }
        let needed =
            current.chars().count() + usize::from(!current.is_empty()) + word.chars().count();
        if needed > WRAP && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_cow() {
        let out = cowsay(&["hello".into(), "world".into()], false);
        let expected = " _____________\n< hello world >\n -------------\n";
        assert!(out.starts_with(expected), "{out}");
        assert!(out.contains("(oo)"));
    }

    #[test]
    fn multi_line_whale() {
        let words: Vec<String> = "one two three four five six seven eight nine ten eleven twelve"
            .split(' ')
            .map(Into::into)
            .collect();
        let out = cowsay(&words, true);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "/ one two three four five six seven eight \\");
        assert_eq!(lines[2], "\\ nine ten eleven twelve                  /");
        assert!(out.contains("##        ."));
    }

    #[test]
    fn empty_and_long_words() {
        assert!(cowsay(&[], false).starts_with(" __\n<  >\n --\n"));
        assert_eq!(wrap(&"x".repeat(45)), vec!["x".repeat(39), "x".repeat(6)]);
    }
}
