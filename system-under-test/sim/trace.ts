// A running FNV-1a hash of everything that happens in a simulation run. Two
// runs with the same seed must produce the same hash: that is how we know a
// failing seed replays exactly.

export class TraceHash {
  private h = 0x811c9dc5;
  events = 0;

  add(event: string): void {
    let h = this.h;
    for (let i = 0; i < event.length; i++) {
      h ^= event.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x0a; // event separator
    this.h = Math.imul(h, 0x01000193) >>> 0;
    this.events++;
  }

  digest(): string {
    return `${(this.h >>> 0).toString(16).padStart(8, '0')}:${this.events}`;
  }
}
