// The VS Code client for gpuc: starts `gpuc lsp` over stdio for .gpu files. Everything the
// editor shows beyond colours (diagnostics, hover, completion, rename, formatting) comes from
// the server, so this file only finds the executable and restarts it when asked.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/** The language server as the `gpuc.path` setting names it. */
function serverOptions() {
  const command = vscode.workspace.getConfiguration('gpuc').get('path', 'gpuc') || 'gpuc';
  return { command, args: ['lsp'], transport: TransportKind.stdio };
}

/**
 * Imported files and catalogs change the diagnostics of the files that import them, so the
 * server hears of every change to them, open in the editor or not.
 * @type {vscode.FileSystemWatcher | undefined}
 */
let estateWatcher;

async function start() {
  /** @type {import('vscode-languageclient').LanguageClientOptions} */
  const clientOptions = {
    documentSelector: [{ language: 'gpu' }],
    synchronize: { fileEvents: estateWatcher },
  };
  client = new LanguageClient('gpuc', 'gpuc language server', serverOptions(), clientOptions);
  try {
    await client.start();
  } catch (error) {
    const command = serverOptions().command;
    vscode.window.showErrorMessage(
      `gpuc: could not start \`${command} lsp\` (${error.message}). ` +
        'Set "gpuc.path" to the gpuc executable.',
    );
  }
}

async function stop() {
  if (client !== undefined) {
    const running = client;
    client = undefined;
    if (running.isRunning()) {
      await running.stop();
    }
  }
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  estateWatcher = vscode.workspace.createFileSystemWatcher('**/*.{gpu,yaml,yml}');
  context.subscriptions.push(
    estateWatcher,
    vscode.commands.registerCommand('gpuc.restartServer', async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('gpuc.path')) {
        await stop();
        await start();
      }
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
