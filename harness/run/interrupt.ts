// Ctrl-C (and SIGTERM) for a long command: the first one aborts `stop` and
// says what happens now (`what`); a second quits at once with 130 (the
// providers' 'exit' handlers still kill the nodes). `release` removes the
// handlers.

export function onInterrupt(what: string): { stop: AbortController; release: () => void } {
  const stop = new AbortController();
  let interrupts = 0;
  const handler = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`\nundertow: interrupted: ${what} (Ctrl-C again to quit at once)\n`);
      stop.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stop,
    release: () => {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}
