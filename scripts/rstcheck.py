#!/usr/bin/env python3
"""Parse a kernel .rst file with docutils, as Sphinx would before its own
extensions run: the kernel's Sphinx-only roles and directives (:c:func:,
kernel-doc, ...) are registered as no-ops, anything else docutils reports at
WARNING or above fails."""
import sys

import docutils.core
import docutils.utils
from docutils.parsers.rst import Directive, directives, roles


class AnyOption(dict):
    """Accept every option name, as the real Sphinx directive would."""

    def __missing__(self, key):
        return directives.unchanged


class Ignored(Directive):
    has_content = True
    optional_arguments = 10
    final_argument_whitespace = True
    option_spec = AnyOption()

    def run(self):
        return []


def ignored_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [docutils.nodes.literal(rawtext, text)], []


for r in ('c:func', 'c:type', 'c:macro', 'c:member', 'c:data', 'ref', 'doc', 'c:struct'):
    roles.register_local_role(r, ignored_role)
for d in ('kernel-doc', 'c:function', 'c:type', 'c:struct', 'toctree', 'c:macro'):
    directives.register_directive(d, Ignored)

path = sys.argv[1]
msgs = []
doc = docutils.core.publish_doctree(
    open(path).read(), source_path=path,
    settings_overrides={'report_level': 5, 'halt_level': 5, 'warning_stream': False})
for node in doc.traverse(docutils.nodes.system_message):
    if node['level'] >= 2:
        msgs.append(node.astext())
for m in msgs:
    print(m)
sys.exit(1 if msgs else 0)
