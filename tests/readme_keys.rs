//! The README's key table says what `app::keymap::KEYS` (the one key table behind the help
//! overlay, the footer and `--help`) says: the same keys in the same order, with the same words.
//! Its third column may say more.

use rollout_console::app::keymap::KEYS;

/// The rows of the table under `## Keys`: (the key cell's `backticked` words, the action cell).
fn readme_key_rows() -> Vec<(Vec<String>, String)> {
    let readme = include_str!("../README.md");
    let section = readme
        .split_once("\n## Keys\n")
        .expect("README.md has a `## Keys` section")
        .1;
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2) // the header and the |---| line
        .collect();
    assert!(!rows.is_empty(), "no table under README.md's `## Keys`");
    rows.iter()
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            assert!(cells.len() >= 2, "a key row with fewer than 2 cells: {row}");
            let keys = cells[0]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            (keys, cells[1].to_string())
        })
        .collect()
}

#[test]
fn the_readme_key_table_is_the_key_table() {
    let readme = readme_key_rows();
    let keys: Vec<(Vec<String>, String)> = KEYS
        .iter()
        .map(|k| {
            let words = k.key.split_whitespace().map(str::to_string).collect();
            (words, k.what.to_string())
        })
        .collect();
    for (i, (want, got)) in keys.iter().zip(&readme).enumerate() {
        assert_eq!(
            got,
            want,
            "README.md's key table, row {}: (keys, action) differ from app::keymap::KEYS",
            i + 1
        );
    }
    assert_eq!(
        readme.len(),
        keys.len(),
        "README.md's key table has {} rows, app::keymap::KEYS {} keys:\nREADME: {readme:#?}\nKEYS: {keys:#?}",
        readme.len(),
        keys.len()
    );
}
