export const HOUR = 3_600_000;

export const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};
export const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
