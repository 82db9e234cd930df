/** The CLI's help texts, generated from the command table so that they cannot drift from it. */
import { type CommandSpec, EXIT, EXIT_MEANINGS, type OptionSpec } from './command.ts';
import { AWS, BY, COMMANDS } from './commands.ts';

const PROGRAM = 'npm run tvm --';
const WIDTH = 100;
/** Where the second column starts. */
const COLUMN = 36;
/** Options that most commands take; the usage lists them once instead of in every synopsis. */
const COMMON: Record<string, OptionSpec> = { ...AWS, ...BY };
const HELP_OPTION = '-h, --help';

function placeholder(option: OptionSpec): string {
  if (option.type === 'boolean') return '';
  if (option.type === 'choice') return ` ${option.choices.join('|')}`;
  if (option.type === 'list') return ` ${option.value} ...`;
  return ` ${option.value}`;
}

/** `--name <value>`, bracketed when optional. */
function optionUsage(name: string, option: OptionSpec): string {
  const text = `--${name}${placeholder(option)}`;
  return option.type === 'string' && option.required === true ? text : `[${text}]`;
}

/** The command line of a command, without the options that the usage lists once. */
function synopsis(spec: CommandSpec): string[] {
  const options = Object.entries(spec.options)
    .filter(([name]) => !Object.hasOwn(COMMON, name))
    .map(([name, option]) => optionUsage(name, option));
  return [spec.name, ...spec.args.map((arg) => arg.name), ...options];
}

/** Words (or a text's words) wrapped to the width; `first` is taken by what precedes line one. */
function wrap(text: string | string[], indent: number, first = indent): string[] {
  const lines: string[] = [];
  let line = '';
  let room = WIDTH - first;
  for (const word of typeof text === 'string' ? text.split(/\s+/) : text) {
    if (line !== '' && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
      room = WIDTH - indent;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** Two columns: the term, and its text beside it (or below it when the term is too wide). */
function entry(term: string | string[], text: string): string[] {
  const left = `  ${typeof term === 'string' ? term : term.join(' ')}`;
  const pad = ' '.repeat(COLUMN);
  if (left.length >= COLUMN - 1) {
    const terms = wrap(term, 6, 2).map((line, index) => `${index === 0 ? '  ' : '      '}${line}`);
    return [...terms, ...wrap(text, COLUMN).map((line) => pad + line)];
  }
  const [head = '', ...rest] = wrap(text, COLUMN);
  return [left.padEnd(COLUMN) + head, ...rest.map((line) => pad + line)];
}

function optionHelp(option: OptionSpec): string {
  const notes = [
    ...(option.type === 'string' && option.required === true ? ['required'] : []),
    ...('default' in option && option.default !== undefined
      ? [`default ${String(option.default)}`]
      : []),
  ];
  return notes.length === 0 ? option.help : `${option.help} (${notes.join('; ')})`;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).flatMap(([name, option]) =>
    entry(`--${name}${placeholder(option)}`, optionHelp(option)),
  );
}

function commandLines(commands: readonly CommandSpec[]): string[] {
  return commands.flatMap((spec) => entry(synopsis(spec), spec.summary));
}

const EXIT_LINE = `exit codes: ${Object.entries(EXIT)
  .map(([name, code]) => `${code} ${EXIT_MEANINGS[name as keyof typeof EXIT]}`)
  .join(', ')}`;

/** `npm run tvm -- --help`: every command and the common options. */
export function usage(): string {
  return [
    `usage: ${PROGRAM} <command> [options]`,
    `       ${PROGRAM} <command> --help`,
    '',
    'commands:',
    ...commandLines(COMMANDS),
    '',
    'options:',
    ...optionLines(COMMON),
    ...entry(HELP_OPTION, 'this text, or the help of a command or group'),
    '',
    EXIT_LINE,
  ].join('\n');
}

/** `npm run tvm -- config --help`: the commands of one group. */
export function groupHelp(group: string): string {
  return [
    `usage: ${PROGRAM} ${group} <command> [options]`,
    '',
    'commands:',
    ...commandLines(COMMANDS.filter((spec) => spec.name.startsWith(`${group} `))),
    '',
    `Run \`${PROGRAM} ${group} <command> --help\` for its options.`,
  ].join('\n');
}

/** `npm run tvm -- config apply --help`: one command, every option it takes. */
export function commandHelp(spec: CommandSpec): string {
  const args = spec.args.flatMap((arg) => entry(arg.name, arg.help));
  return [
    ...wrap(
      [
        'usage:',
        ...PROGRAM.split(' '),
        ...synopsis(spec),
        ...(Object.keys(spec.options).some((name) => Object.hasOwn(COMMON, name))
          ? ['[options]']
          : []),
      ],
      4,
      0,
    ).map((line, index) => (index === 0 ? line : `    ${line}`)),
    '',
    ...wrap(spec.summary, 0),
    ...(spec.description === undefined ? [] : ['', ...wrap(spec.description, 0)]),
    ...(args.length === 0 ? [] : ['', 'arguments:', ...args]),
    '',
    'options:',
    ...optionLines(spec.options),
    ...entry(HELP_OPTION, 'this text'),
    '',
    EXIT_LINE,
  ].join('\n');
}
