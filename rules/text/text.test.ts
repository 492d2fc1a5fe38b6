import { describe, expect, it } from 'vitest';
import { RULES } from '../engine/rules/index.ts';
import { fleet } from '../../test/support/rules/engine.ts';
import { TEMPLATES, renderAlertText, renderMessage } from './index.ts';

const prone = {
  rule: 'prone-sleep' as const,
  room: 'r2',
  subject: { kind: 'infant' as const, id: 'a-07' },
  value: 35,
};

describe('alert text', () => {
  it('renders the design examples in zh-CN and en, without names', () => {
    expect(renderMessage(prone, fleet)).toEqual({
      'zh-CN': '2 号睡眠室 A-07 趴睡已 35 秒',
      en: 'Infant A-07 in nap room 2 has been prone for 35 s',
    });
  });

  it('adds the registry display name only when asked (channels inside the centre)', () => {
    expect(renderAlertText(prone, fleet, { withNames: true, locale: 'zh-CN' })).toBe(
      '2 号睡眠室 王小明 (A-07) 趴睡已 35 秒',
    );
    expect(renderAlertText(prone, fleet, { withNames: false, locale: 'en' })).not.toContain('王小明');
  });

  it('has a template for every rule of the registry and the core in both locales', () => {
    for (const rule of [...RULES.map((r) => r.id), 'one-key-alarm', 'monitoring-lost']) {
      expect(TEMPLATES[rule], rule).toBeDefined();
      const subject = { kind: 'room' as const, id: 'r2' };
      const text = renderMessage({ rule, room: 'r2', subject, value: 1 }, fleet);
      expect(text['zh-CN']).toContain('2 号睡眠室');
      expect(text.en).toContain('nap room 2');
    }
    const degraded = renderMessage(
      { rule: 'monitoring-degraded', subject: { kind: 'center', id: 'ca' }, value: 42 },
      fleet,
    );
    expect(degraded).toEqual({
      'zh-CN': '监测降级：CA 的数据延迟 42 秒',
      en: 'Monitoring degraded: data from centre CA is delayed by 42 s',
    });
  });
});
