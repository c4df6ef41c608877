"""The tools the tool-call probe offers: two dozen, shaped and sized like a coding agent's.

Written for GateDeck (no text copied from any client): each tool has a name, a description of
several sentences with usage notes, and a JSON schema with typed, described, required and
optional fields, nested objects and arrays, enums and bounds, as agent CLIs send them. A model
that handles tool calls well with two small tools may not with these; the probe asks with these.
"""

from __future__ import annotations

from typing import Any

_SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "input_schema": {
            "$schema": _SCHEMA,
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
    }


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _int(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **extra}


def _flag(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


_PATH = "Absolute path of the file, starting with the workspace root. Relative paths are refused."
_TIMEOUT = _int(
    "How long to wait, in milliseconds, before giving up. Defaults to two minutes; at most ten.",
    minimum=1000,
    maximum=600000,
)

TOOLS: list[dict[str, Any]] = [
    _tool(
        "read_file",
        "Reads a text file from the workspace and returns its lines, each prefixed with its line "
        "number, so later edits can point at exact places. Use it before changing a file: an edit "
        "to a file that was not read in this conversation is refused. Long files come back in "
        "pages; pass offset and limit to read further. Images come back as pictures and notebooks "
        "as their cells with outputs. Reading a folder fails: list it with list_directory instead. "
        "When several files are needed, ask for them in one turn as separate calls.",
        {
            "path": _text(_PATH),
            "offset": _int(
                "First line to return, counting from 1. Leave out to start at the top.", minimum=1
            ),
            "limit": _int("How many lines to return. Leave out for the default page of 2000.", minimum=1),
        },
        ["path"],
    ),
    _tool(
        "write_file",
        "Creates a file, or replaces a file's whole content. Prefer edit_file for changes to an "
        "existing file: it sends only the difference and keeps the rest exactly as it was. A file "
        "that already exists must have been read first. Never create documentation or notes files "
        "unless the user asked for them, and never write secrets or keys into the workspace.",
        {"path": _text(_PATH), "content": _text("The complete new content of the file.")},
        ["path", "content"],
    ),
    _tool(
        "edit_file",
        "Replaces one exact piece of text in a file with another. The old text must appear exactly "
        "once unless replace_all is set; include enough surrounding lines to make it unique. Keep "
        "the file's indentation as the numbered lines from read_file show it, without the number "
        "prefix. The edit fails, and changes nothing, when the old text is missing or ambiguous.",
        {
            "path": _text(_PATH),
            "old_text": _text("The text to replace, exactly as it stands in the file."),
            "new_text": _text("The text to put in its place; must differ from old_text."),
            "replace_all": _flag("Replace every occurrence instead of requiring a single one."),
        },
        ["path", "old_text", "new_text"],
    ),
    _tool(
        "apply_edits",
        "Applies several edits to one file in order, all or nothing: each edit sees the result of "
        "the ones before it, and if any fails the file is left untouched. Use it for a change that "
        "touches several places of the same file, such as renaming a function and its callers.",
        {
            "path": _text(_PATH),
            "edits": {
                "type": "array",
                "description": "The edits, applied one after the other.",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "old_text": _text("Text to replace, exactly as it stands after earlier edits."),
                        "new_text": _text("Text to put in its place."),
                        "replace_all": _flag("Replace every occurrence of old_text."),
                    },
                    "required": ["old_text", "new_text"],
                    "additionalProperties": False,
                },
            },
        },
        ["path", "edits"],
    ),
    _tool(
        "list_directory",
        "Lists the entries of one folder of the workspace with their kind and size. Hidden entries "
        "and what the project's ignore files exclude are left out unless asked for. To find files "
        "by name anywhere below a folder, glob_files is quicker.",
        {
            "path": _text("Absolute path of the folder."),
            "show_hidden": _flag("Include entries whose names start with a dot."),
            "ignore": {
                "type": "array",
                "description": "Glob patterns of entries to leave out.",
                "items": {"type": "string"},
            },
        },
        ["path"],
    ),
    _tool(
        "glob_files",
        "Finds files whose paths match a glob pattern such as 'src/**/*.py' or '**/test_*.rs', "
        "newest first. It works on any size of project and returns paths only; use search_text to "
        "look inside files. For an open-ended search that needs several rounds, delegate it to "
        "spawn_helper instead.",
        {
            "pattern": _text("The glob pattern to match file paths against."),
            "path": _text("Folder to search in; the workspace root when left out."),
        },
        ["pattern"],
    ),
    _tool(
        "search_text",
        "Searches file contents with a regular expression and returns the matching files, the "
        "matching lines, or counts. It understands the full regular expression syntax, can filter "
        "by glob or file type, and respects ignore files. Always use it instead of running grep or "
        "rg through run_command: its output is shaped for you and its permissions are right.",
        {
            "pattern": _text("The regular expression to look for."),
            "path": _text("File or folder to search; the workspace root when left out."),
            "glob": _text("Only files whose paths match this glob, such as '*.ts'."),
            "file_type": _text("Only files of this type, such as 'py', 'go' or 'rust'."),
            "output": _text(
                "What to return for each match.", enum=["files_with_matches", "content", "count"]
            ),
            "context_lines": _int("Lines of context before and after each match.", minimum=0, maximum=50),
            "ignore_case": _flag("Match letters regardless of case."),
            "multiline": _flag("Let patterns span lines; '.' then matches newlines too."),
            "head_limit": _int("Return at most this many results.", minimum=1),
        },
        ["pattern"],
    ),
    _tool(
        "run_command",
        "Runs a shell command in the workspace and returns what it printed and its exit status. "
        "The shell keeps its working directory and environment between calls. Quote paths that "
        "contain spaces. Do not use it to read, write, search or list files: the dedicated tools "
        "do that better and need no approval. Chain dependent commands with '&&'; run independent "
        "ones as separate calls in the same turn. Long-running servers go in the background, and "
        "their output is read later with check_command_output.",
        {
            "command": _text("The command line to run."),
            "description": _text("What the command does, in five to ten words, shown to the user."),
            "timeout_ms": _TIMEOUT,
            "background": _flag("Start it in the background and return at once with its id."),
        },
        ["command"],
    ),
    _tool(
        "check_command_output",
        "Returns what a background command printed since the last check, and whether it is "
        "still running. Optionally keeps only the lines that match a regular expression.",
        {
            "command_id": _text("The id run_command returned when it started the command."),
            "filter": _text("Only lines matching this regular expression."),
        },
        ["command_id"],
    ),
    _tool(
        "stop_command",
        "Stops a background command started by run_command, first politely and then by force.",
        {"command_id": _text("The id of the background command to stop.")},
        ["command_id"],
    ),
    _tool(
        "fetch_url",
        "Downloads a web page, turns it into plain text and answers a question about it. Use it "
        "for documentation and public pages the user points at; it cannot log in and does not run "
        "scripts. Addresses over plain HTTP are upgraded to HTTPS. When the page moved to another "
        "host the tool says so, and a second call with the new address fetches it.",
        {
            "url": _text("The address to fetch.", format="uri"),
            "question": _text("What to find out from the page."),
        },
        ["url", "question"],
    ),
    _tool(
        "web_search",
        "Searches the web and returns result titles, addresses and short excerpts. Use it for "
        "facts newer than what you know. Cite the addresses you used in the answer.",
        {
            "query": _text("The search words.", minLength=2),
            "allowed_domains": {
                "type": "array",
                "description": "Only results from these domains.",
                "items": {"type": "string"},
            },
            "blocked_domains": {
                "type": "array",
                "description": "Never results from these domains.",
                "items": {"type": "string"},
            },
        },
        ["query"],
    ),
    _tool(
        "update_todos",
        "Keeps the task list for this session: what is to do, what is in progress and what is "
        "done. Use it for work of three steps or more, so the user sees progress. Exactly one item "
        "is in progress at a time; mark an item done as soon as it is, not in batches.",
        {
            "todos": {
                "type": "array",
                "description": "The whole updated list.",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": _text("What to do, in the imperative.", minLength=1),
                        "active_form": _text("The same, as shown while in progress.", minLength=1),
                        "status": _text("Where it stands.", enum=["pending", "in_progress", "completed"]),
                    },
                    "required": ["content", "active_form", "status"],
                    "additionalProperties": False,
                },
            }
        },
        ["todos"],
    ),
    _tool(
        "ask_user",
        "Asks the user one to four multiple-choice questions when a decision is theirs to make: "
        "a choice between approaches, a missing requirement, a preference. Each question offers "
        "two to four options with a short label and an explanation; the user may also answer in "
        "their own words. Do not ask what you can find out with the other tools.",
        {
            "questions": {
                "type": "array",
                "minItems": 1,
                "maxItems": 4,
                "description": "The questions to ask.",
                "items": {
                    "type": "object",
                    "properties": {
                        "question": _text("The full question, ending in a question mark."),
                        "header": _text("A label of at most twelve characters.", maxLength=12),
                        "multi_select": _flag("Let the user pick several options."),
                        "options": {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": 4,
                            "items": {
                                "type": "object",
                                "properties": {
                                    "label": _text("One to five words."),
                                    "explanation": _text("What choosing it means."),
                                },
                                "required": ["label", "explanation"],
                                "additionalProperties": False,
                            },
                        },
                    },
                    "required": ["question", "header", "options", "multi_select"],
                    "additionalProperties": False,
                },
            }
        },
        ["questions"],
    ),
    _tool(
        "spawn_helper",
        "Starts a helper agent with its own context for a self-contained task: an open-ended "
        "search across a large code base, a review of a change, research that needs many steps. "
        "The helper cannot see this conversation, so the prompt must say everything it needs and "
        "what to report. Several helpers can run at once when started in the same turn. Its "
        "report is not shown to the user; summarise what matters from it.",
        {
            "description": _text("A three to five word summary of the task."),
            "prompt": _text("The complete task for the helper."),
            "kind": _text("Which kind of helper to start.", enum=["general", "explore", "plan", "review"]),
            "background": _flag("Run it in the background and be told when it finishes."),
        },
        ["description", "prompt"],
    ),
    _tool(
        "read_notebook",
        "Reads a Jupyter notebook: its cells in order with their kind, source and outputs, "
        "including images and tables. Pass a cell id to read just one.",
        {"path": _text(_PATH), "cell_id": _text("Only this cell.")},
        ["path"],
    ),
    _tool(
        "edit_notebook",
        "Replaces, inserts or deletes one cell of a Jupyter notebook. Cells are found by id; an "
        "inserted cell goes after the cell given, or first when none is.",
        {
            "path": _text(_PATH),
            "cell_id": _text("The cell to change, or to insert after."),
            "source": _text("The cell's new source."),
            "cell_type": _text("The kind of cell.", enum=["code", "markdown"]),
            "mode": _text("What to do.", enum=["replace", "insert", "delete"]),
        },
        ["path", "source"],
    ),
    _tool(
        "git_status",
        "Shows the repository's branch, what is staged, changed and untracked, and how far the "
        "branch is ahead of or behind its upstream. Read only.",
        {"path": _text("A folder inside the repository; the workspace root when left out.")},
        [],
    ),
    _tool(
        "git_diff",
        "Shows a diff: of the working tree against the index, of what is staged, or between two "
        "revisions, optionally for some paths only. Read only.",
        {
            "staged": _flag("Show what is staged instead of unstaged changes."),
            "base": _text("A revision to compare from, such as 'main' or a commit hash."),
            "head": _text("A revision to compare to; the working tree when left out."),
            "paths": {"type": "array", "items": {"type": "string"}, "description": "Only these paths."},
            "context_lines": _int("Lines of context around each change.", minimum=0, maximum=20),
        },
        [],
    ),
    _tool(
        "run_tests",
        "Runs the project's tests, all or some, with the project's own runner, and returns a "
        "summary: how many passed, failed and were skipped, and for each failure its name, the "
        "assertion and the end of its output. Prefer the narrowest selection that covers the "
        "change; the whole suite can take minutes.",
        {
            "selection": {
                "type": "array",
                "description": "Test files, folders or test ids; all tests when left out.",
                "items": {"type": "string"},
            },
            "keyword": _text("Only tests whose names match this expression."),
            "fail_fast": _flag("Stop at the first failure."),
            "timeout_ms": _TIMEOUT,
        },
        [],
    ),
    _tool(
        "lint_files",
        "Runs the project's linters and type checker on some files and returns their findings "
        "with file, line, rule and message. Fixes nothing unless fix is set.",
        {
            "paths": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Files."},
            "fix": _flag("Apply the fixes the linters know how to make."),
        },
        ["paths"],
    ),
    _tool(
        "format_files",
        "Formats files with the project's formatter, in place, and says which ones changed.",
        {"paths": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Files."}},
        ["paths"],
    ),
    _tool(
        "use_skill",
        "Runs one of the skills installed for this workspace: a named, packaged procedure such "
        "as writing a release note or reviewing a pull request. Only names listed as available "
        "in this conversation exist; do not guess others.",
        {"skill": _text("The skill's name."), "arguments": _text("What to pass to it, if anything.")},
        ["skill"],
    ),
    _tool(
        "remember",
        "Saves a short note that later sessions in this workspace will see: a preference the "
        "user stated, a command that builds the project, a decision and its reason. Never save "
        "secrets. Notes are plain sentences.",
        {
            "note": _text("The note, one or two sentences.", maxLength=500),
            "scope": _text("Who sees it.", enum=["workspace", "user"]),
        },
        ["note"],
    ),
]

#: Longer usage notes, as agent CLIs give their busiest tools (their descriptions run to
#: thousands of characters).
_NOTES: dict[str, list[str]] = {
    "read_file": [
        "Read a file whole unless it is very long; a page of 2000 lines covers most source files.",
        "Lines longer than 2000 characters are cut, and the cut is marked.",
        "A file that exists but is empty comes back with a note saying so instead of nothing.",
        "Screenshots and other images the user mentions can be read too; describe what you see.",
        "PDF files come back page by page; pass pages for a long one, at most twenty at a time.",
        "Reading a file again after someone else may have changed it is cheap; do it rather than "
        "trusting what you read earlier in a long session.",
        "Do not read a file just to check that it exists; glob_files answers that faster.",
    ],
    "edit_file": [
        "Read the file in this conversation before editing it; the tool checks.",
        "old_text is matched exactly, white space included: copy it from read_file's output after "
        "the line-number prefix (spaces, then the number, then a tab), never including the prefix.",
        "When the same text appears several times, either widen old_text with the lines around it "
        "until it is unique, or set replace_all to change every occurrence (a rename, say).",
        "Keep edits small and focused. Several edits in one file are better done with apply_edits.",
        "Never add comments that only narrate the edit ('changed this', 'added that').",
        "Do not add emoji to files unless the user asks for them.",
        "After editing code, run the narrowest test or linter that covers it.",
    ],
    "run_command": [
        "Before creating files or folders with a command, check that the parent folder exists "
        "with list_directory.",
        "Always quote paths that contain spaces with double quotes.",
        "Keep the working directory stable: use absolute paths rather than cd where you can.",
        "A command's output is cut after 30000 characters; narrow it (head, a filter, a quieter "
        "flag) rather than reading a flood.",
        "Do not use it for find, grep, cat, head, tail, sed, awk or echo when a dedicated tool "
        "does the job: glob_files, search_text, read_file, edit_file and write_file exist for that.",
        "For git: never change the configuration, never run commands that rewrite history or "
        "discard work (reset --hard, push --force, clean -f, checkout --) unless the user asked "
        "for exactly that, and never skip hooks. Interactive commands (rebase -i, add -i) cannot "
        "be used because nobody can answer their prompts.",
        "When asked to commit: look at git status and git diff first, write a message that says "
        "why the change was made in one or two sentences, stage the files by name, and check the "
        "result with git status afterwards. If a hook changes files, commit again including them.",
        "Commands that install packages, reach the network or change the system need the user's "
        "approval; say why you need them.",
        "Give every command a description the user can read at a glance, such as 'List files in "
        "the current folder' or 'Run the order service tests'.",
    ],
    "search_text": [
        "Patterns use the regular expression syntax of ripgrep: escape braces and other special "
        "characters when you mean them literally ('interface\\{\\}' finds 'interface{}').",
        "Searches are per line unless multiline is set; a pattern that spans lines needs it.",
        "Start with files_with_matches to see where something is, then content with a few context "
        "lines for the places that matter; counts answer 'how often'.",
        "Filter by glob or file_type rather than searching everything and sifting the output.",
        "For a question that needs several searches and reading in between, spawn_helper with "
        "the explore kind saves this conversation's context.",
    ],
    "spawn_helper": [
        "Good tasks for a helper: 'find every place that builds an order total and report how "
        "each handles discounts', 'review this diff for missing error handling', 'work out how "
        "the export job is scheduled'.",
        "Poor tasks: reading one known file (use read_file), finding a class by name (use "
        "search_text), anything that needs the user's answers along the way.",
        "Say in the prompt whether the helper should change files or only look and report; "
        "helpers of the explore and review kinds never change files.",
        "Start independent helpers in the same turn so they run at the same time.",
        "The helper's final message is its report; trust it, but check anything surprising "
        "yourself before acting on it.",
        "Helpers started in the background tell you when they finish; do not poll them.",
    ],
    "update_todos": [
        "Use it when the user gives several tasks at once, when a task needs planning, or when "
        "work turns out bigger than it looked; skip it for a single small change or a question.",
        "Write items as concrete actions ('Add a shipment table migration'), not themes.",
        "Keep the list honest: an item whose tests fail is not completed; add an item for what "
        "is blocking instead.",
        "Remove items that turned out to be unnecessary rather than marking them done.",
    ],
    "ask_user": [
        "Put the option you recommend first and add '(recommended)' to its label.",
        "Do not offer an 'Other' option: the user can always answer in their own words.",
        "Ask when the choice changes what you build; decide yourself when it does not.",
    ],
    "fetch_url": [
        "Prefer a tool that serves the site directly when one is listed; this one is general.",
        "Answers are drawn from a summary of the page: for exact text, ask for a quotation.",
        "Pages are cached for fifteen minutes, so fetching the same address again is cheap.",
        "Never fetch addresses you made up; use the ones the user gave or a search returned.",
    ],
    "write_file": [
        "Prefer editing existing files to creating new ones; a new file needs a reason.",
        "Write complete files: no placeholders such as '...' or 'rest unchanged'.",
        "Match the project's line endings, indentation and encoding.",
    ],
    "run_tests": [
        "The summary counts tests per outcome; failures come with their assertion and the end of "
        "their output, which is usually enough to find the cause.",
        "A test that fails before your change too is worth a sentence to the user, not a fix "
        "they did not ask for.",
        "Flaky tests: run the failing one again on its own before concluding anything.",
    ],
}
for _tool_def in TOOLS:
    _notes = _NOTES.get(_tool_def["name"])
    if _notes:
        _tool_def["description"] += "\n\nUsage notes:\n" + "\n".join(f"- {line}" for line in _notes)
