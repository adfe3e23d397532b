// onboarding: before the app opens, a new user tells their education level, age and AI
// familiarity (PATCH /api/v1/users/me); explanations are then written for their level.
import { sel } from './selapi.js';
import { el, field, select, errorText, fieldLabel, focusSoon } from './ui.js';
import { t } from './i18n.js';

export const EDUCATION = ['no_formal', 'high_school', 'bachelor', 'master', 'phd', 'engineer', 'other'];

export function needsOnboarding(user) {
  return !user || !user.education_level || !(user.age >= 13) || !(user.ai_familiarity >= 1);
}

/** Draws the onboarding form into root; onDone(updatedUser) once the profile is saved. */
export function onboardingPage(root, ctx, user, onDone) {
  const st = { busy: false, error: null, fields: {} };
  const values = {
    education_level: user.education_level || '', age: user.age ? String(user.age) : '',
    ai_familiarity: user.ai_familiarity ? String(user.ai_familiarity) : '',
  };

  function readForm(form) {
    values.education_level = form.querySelector('#ob-education').value;
    values.age = form.querySelector('#ob-age').value.trim();
    const f = form.querySelector('input[name="ai_familiarity"]:checked');
    values.ai_familiarity = f ? f.value : '';
  }

  function check() {
    const p = {};
    if (!values.education_level) p.education_level = t('onboarding.check.education');
    const age = Number(values.age);
    if (!values.age || !Number.isInteger(age) || age < 13 || age > 120) p.age = t('onboarding.check.age');
    if (!values.ai_familiarity) p.ai_familiarity = t('onboarding.check.familiarity');
    return p;
  }

  async function submit(e) {
    e.preventDefault();
    if (st.busy) return;
    readForm(e.target);
    st.fields = check();
    st.error = Object.keys(st.fields).length ? t('auth.fix_fields') : null;
    if (st.error) {
      draw();
      const first = root.querySelector('[aria-invalid="true"]');
      if (first) first.focus();
      return;
    }
    st.busy = true;
    draw();
    try {
      const updated = await sel.updateMe({
        education_level: values.education_level, age: Number(values.age),
        ai_familiarity: Number(values.ai_familiarity),
      });
      st.busy = false;
      onDone(updated && updated.id ? updated : { ...user, ...values });
    } catch (err) {
      st.busy = false;
      if (ctx.unauthorized(err)) return;
      st.fields = Object.fromEntries(err.fields.map((f) => [f.field, `${fieldLabel(f.field)}: ${f.problem}.`]));
      st.error = errorText(err);
      draw();
    }
  }

  function fieldError(name) {
    return el('p', { class: 'field-error', id: `ob-${name}-error`, text: st.fields[name] || '' });
  }

  function draw() {
    const edu = select([['', t('onboarding.choose')], ...EDUCATION.map((v) => [v, t(`education.${v}`)])],
      values.education_level, { id: 'ob-education', name: 'education_level', required: true,
        'aria-invalid': String(Boolean(st.fields.education_level)), 'aria-describedby': 'ob-education_level-error' });
    const age = el('input', {
      id: 'ob-age', name: 'age', type: 'number', inputmode: 'numeric', min: '13', max: '120', step: '1',
      required: true, value: values.age, 'aria-invalid': String(Boolean(st.fields.age)),
    });
    const fam = el('fieldset', { class: 'familiarity', 'aria-describedby': 'ob-ai_familiarity-error' },
      el('legend', { text: t('onboarding.familiarity') }),
      el('p', { class: 'field-hint', text: t('onboarding.familiarity.hint') }),
      [1, 2, 3, 4, 5].map((n) => el('div', { class: 'radio' },
        el('input', {
          type: 'radio', name: 'ai_familiarity', id: `ob-fam-${n}`, value: String(n),
          checked: values.ai_familiarity === String(n), 'aria-invalid': String(Boolean(st.fields.ai_familiarity)),
        }),
        el('label', { for: `ob-fam-${n}` }, el('strong', { text: `${n} · ${t(`familiarity.${n}`)}` }),
          el('span', { class: 'muted', text: ` — ${t(`familiarity.${n}.hint`)}` })))),
      fieldError('ai_familiarity'));
    const ageField = field(t('onboarding.age'), age);
    age.setAttribute('aria-describedby', 'ob-age-error');
    ageField.append(fieldError('age'));
    const eduField = field(t('onboarding.education'), edu);
    eduField.append(fieldError('education_level'));
    root.replaceChildren(el('div', { class: 'card onboarding-card' },
      el('h1', { id: 'onboarding-title', tabindex: '-1', text: t('onboarding.title') }),
      el('p', { class: 'muted', text: t('onboarding.intro') }),
      el('form', { class: 'form', id: 'onboarding-form', novalidate: true, onsubmit: submit, 'aria-busy': String(st.busy) },
        eduField, ageField, fam,
        el('div', { class: 'notice notice-error', id: 'onboarding-error', role: 'alert', text: st.error || '' }),
        el('button', {
          type: 'submit', class: 'btn btn-primary btn-block', id: 'onboarding-submit',
          'aria-disabled': String(st.busy), text: t(st.busy ? 'onboarding.busy' : 'onboarding.submit'),
        }))));
  }
  draw();
  focusSoon(document.getElementById('onboarding-title'));
  return {
    draw: () => {
      const form = root.querySelector('#onboarding-form');
      if (form) readForm(form);
      draw();
    },
  };
}
