//! The graph in Mermaid (`flowchart LR`), which GitHub and GitLab render in Markdown: groups
//! as subgraphs, states as classes.

use std::fmt::Write as _;

use super::{Graph, Group, Node, State};

/// The graph as one flowchart.
pub fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for state in State::ALL {
        let (colour, fill) = state.colours();
        let extra = match state {
            State::Patched => ",stroke-width:2px",
            State::Skipped => ",stroke-dasharray:4 3",
            State::Selected | State::Unchanged => "",
        };
        let _ = writeln!(
            out,
            "  classDef {} fill:{fill},stroke:{colour},color:{colour}{extra}",
            state.name()
        );
    }
    out.push_str("  subgraph legend [\"legend\"]\n");
    for node in super::legend() {
        write_node(&mut out, &node, 2);
    }
    out.push_str("  end\n");
    for node in &graph.nodes {
        write_node(&mut out, node, 1);
    }
    for group in &graph.groups {
        write_group(&mut out, group, 1);
    }
    for edge in &graph.edges {
        let arrow = if edge.dashed { "-.->" } else { "-->" };
        match &edge.label {
            Some(label) => {
                let _ = writeln!(
                    out,
                    "  {} {arrow}|{}| {}",
                    edge.from,
                    quoted(label),
                    edge.to
                );
            }
            None => {
                let _ = writeln!(out, "  {} {arrow} {}", edge.from, edge.to);
            }
        }
    }
    out
}

fn write_group(out: &mut String, group: &Group, depth: usize) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}subgraph {} [{}]", group.id, quoted(&group.label));
    for node in &group.nodes {
        write_node(out, node, depth + 1);
    }
    for inner in &group.groups {
        write_group(out, inner, depth + 1);
    }
    let _ = writeln!(out, "{pad}end");
}

fn write_node(out: &mut String, node: &Node, depth: usize) {
    let _ = writeln!(
        out,
        "{}{}[{}]:::{}",
        "  ".repeat(depth),
        node.id,
        quoted(&node.label),
        node.state.name()
    );
}

/// A Mermaid label: in quotes, with quotes and angle brackets as entities and line breaks as
/// `<br/>`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' => out.push_str("<br/>"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
