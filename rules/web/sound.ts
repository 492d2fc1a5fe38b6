/**
 * Alarm sound with Web Audio: no audio files to serve. Browsers start an AudioContext only after a user
 * gesture, so the page calls `unlock` from its first tap and shows a button while sound is blocked.
 */
export class Alarm {
  private context: AudioContext | undefined;
  private timer: number | undefined;

  get blocked(): boolean {
    return this.context?.state !== 'running';
  }

  get state(): AudioContextState | 'none' {
    return this.context?.state ?? 'none';
  }

  unlock(): void {
    this.context ??= new AudioContext();
    if (this.context.state === 'suspended') void this.context.resume();
  }

  private beep(frequency: number, startIn: number, seconds: number): void {
    const ctx = this.context;
    if (ctx?.state !== 'running') return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'square';
    osc.frequency.value = frequency;
    const t = ctx.currentTime + startIn;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + seconds);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t);
    osc.stop(t + seconds + 0.05);
  }

  /** One chime for a new warning or a reminder. */
  chime(): void {
    this.beep(660, 0, 0.25);
  }

  /** A critical alarm: a two-tone pattern repeated until `stop` (every critical acknowledged). */
  start(): void {
    if (this.timer !== undefined) return;
    const pattern = () => {
      this.beep(880, 0, 0.18);
      this.beep(1320, 0.22, 0.18);
    };
    pattern();
    this.timer = window.setInterval(pattern, 1200);
  }

  stop(): void {
    if (this.timer === undefined) return;
    window.clearInterval(this.timer);
    this.timer = undefined;
  }

  get sounding(): boolean {
    return this.timer !== undefined;
  }
}
