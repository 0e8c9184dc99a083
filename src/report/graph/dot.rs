//! The graph in Graphviz DOT (`dot -Tsvg`): groups as `cluster_` subgraphs, left to right.

use std::fmt::Write as _;

use super::{Graph, Group, Node, State};

/// The graph as one `digraph` (several would not make one SVG).
pub fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph xds_hook {\n  rankdir=LR;\n  compound=true;\n  \
         node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n  \
         edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    legend(&mut out);
    for node in &graph.nodes {
        write_node(&mut out, node, 1);
    }
    for group in &graph.groups {
        write_group(&mut out, group, 1);
    }
    for edge in &graph.edges {
        let mut attrs = Vec::new();
        if let Some(label) = &edge.label {
            attrs.push(format!("label={}", quoted(label)));
        }
        if edge.dashed {
            attrs.push("style=dashed".to_owned());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(out, "  {} -> {}{attrs};", edge.from, edge.to);
    }
    out.push_str("}\n");
    out
}

fn legend(out: &mut String) {
    out.push_str("  subgraph cluster_legend {\n    label=\"legend\";\n    fontsize=10;\n");
    for node in super::legend() {
        write_node(out, &node, 2);
    }
    out.push_str("  }\n");
}

fn write_group(out: &mut String, group: &Group, depth: usize) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(
        out,
        "{pad}subgraph cluster_{} {{\n{pad}  label={};\n{pad}  fontsize=11;",
        group.id,
        quoted(&group.label)
    );
    for node in &group.nodes {
        write_node(out, node, depth + 1);
    }
    for inner in &group.groups {
        write_group(out, inner, depth + 1);
    }
    let _ = writeln!(out, "{pad}}}");
}

fn write_node(out: &mut String, node: &Node, depth: usize) {
    let (colour, fill) = node.state.colours();
    let style = match node.state {
        State::Patched => "\"rounded,filled,bold\"",
        State::Skipped => "\"rounded,filled,dashed\"",
        State::Selected | State::Unchanged => "\"rounded,filled\"",
    };
    let _ = writeln!(
        out,
        "{}{} [label={}, color=\"{colour}\", fontcolor=\"{colour}\", fillcolor=\"{fill}\", style={style}];",
        "  ".repeat(depth),
        node.id,
        quoted(&node.label),
    );
}

/// A DOT string: backslashes and quotes escaped, line breaks as `\n`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
