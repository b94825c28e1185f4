let n = 0;
/** A number unique within the test process, for readable unique names and emails. */
export const seq = (): number => {
  n += 1;
  return n;
};
